// One small error family with stable codes; callers branch on `code`, never on the message.
export type ErrorCode =
  | 'NOT_FOUND'
  | 'BAD_QUERY'
  | 'BAD_REQUEST'
  | 'BAD_CONFIG'
  | 'STORE_FAILED'
  | 'UNAUTHORIZED'
  | 'READ_TIMEOUT' // a read ran past its time budget and was abandoned
  | 'THREAD_EXITED' // the worker thread that held a request is gone
  | 'INTERNAL' // an unexpected error that crossed a thread boundary

const CODES: ReadonlySet<string> = new Set<ErrorCode>([
  'NOT_FOUND',
  'BAD_QUERY',
  'BAD_REQUEST',
  'BAD_CONFIG',
  'STORE_FAILED',
  'UNAUTHORIZED',
  'READ_TIMEOUT',
  'THREAD_EXITED',
  'INTERNAL',
])

/** A code received from another thread, or INTERNAL when it is not one of ours. */
export const toErrorCode = (code: string): ErrorCode => (CODES.has(code) ? (code as ErrorCode) : 'INTERNAL')

export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
    this.name = 'AppError'
  }
}
