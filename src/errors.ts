// One small error family with stable codes; callers branch on `code`, never on the message.
export type ErrorCode =
  | 'NOT_FOUND'
  | 'BAD_QUERY'
  | 'BAD_REQUEST'
  | 'BAD_CONFIG'
  | 'STORE_FAILED'
  | 'UNAUTHORIZED'

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
