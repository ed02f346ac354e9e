import { AppError, toErrorCode } from '../errors.js'

/** Messages between a thread and its owner, on any port (a Worker or a MessagePort). */
export type WireMessage =
  | { kind: 'req'; reqId: number; body: unknown }
  | { kind: 'res'; reqId: number; value?: unknown; error?: WireError }
  | { kind: 'event'; body: unknown }
  | { kind: 'close' }
  | { kind: 'closed' }

/** An error as it crosses a thread boundary: the code survives, so callers still branch on it. */
export interface WireError {
  code: string
  message: string
}

export function toWireError(err: unknown): WireError {
  if (err instanceof AppError) return { code: err.code, message: err.message }
  return { code: 'INTERNAL', message: err instanceof Error ? err.message : String(err) }
}

/** An AppError rebuilt on the receiving side of a thread boundary. */
export class ThreadError extends AppError {}

export function fromWireError(e: WireError): AppError {
  return new ThreadError(toErrorCode(e.code), e.message)
}

/** The part of Worker and MessagePort that the plumbing uses. */
export interface PortLike {
  postMessage(value: unknown, transferList?: readonly Transferable[]): void
  on(event: 'message', listener: (value: unknown) => void): unknown
  off(event: 'message', listener: (value: unknown) => void): unknown
}

export const isWire = (m: unknown): m is WireMessage => typeof m === 'object' && m !== null && 'kind' in m
