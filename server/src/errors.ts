/**
 * The catalogue of errors a connection can end with. Each has a stable string code (for logs
 * and tests) and the WebSocket close code the client sees. docs/protocol.md lists every entry;
 * server/test/errors.test.ts fails when the two drift apart.
 */
export const CloseCode = {
  /** Normal closure (the server's room was told to close a peer cleanly). */
  normal: 1000,
  /** A text frame: the protocol is binary only. */
  unsupportedData: 1003,
  /** A message in more pieces than maxFragments allows (sent by `ws` itself). */
  policyViolation: 1008,
  /** A message over MAX_MESSAGE_BYTES (sent by `ws` itself). */
  messageTooBig: 1009,
  /** The document could not be loaded from the store (nothing was written back), or a bug. */
  internalError: 1011,
  /** The server is shutting down (SIGTERM); clients should reconnect. */
  serviceRestart: 1012,
  /** This client fell too far behind reading; it should reconnect and resync. */
  tryAgainLater: 1013,
  /** A binary frame that does not parse as a y-websocket message. */
  malformedMessage: 4400,
  /** The token's `exp` passed during the connection; a new token is needed. */
  tokenExpired: 4401,
  /** The connection sent nothing within the handshake timeout. */
  handshakeTimeout: 4408,
  /** An update would take the document past MAX_DOC_BYTES, or presence past its limits. */
  tooLarge: 4413,
  /** A well-formed sync message whose Yjs update could not be applied. */
  invalidUpdate: 4422,
  /** Sustained sending beyond the per-connection rate limits. */
  rateLimited: 4429,
} as const

export type CloseCodeValue = (typeof CloseCode)[keyof typeof CloseCode]

export type ErrorCode =
  | 'TEXT_FRAME'
  | 'MESSAGE_TOO_BIG'
  | 'TOO_MANY_FRAGMENTS'
  | 'MALFORMED_MESSAGE'
  | 'INVALID_UPDATE'
  | 'LOAD_FAILED'
  | 'INTERNAL'
  | 'SHUTTING_DOWN'
  | 'SLOW_READER'
  | 'TOKEN_EXPIRED'
  | 'HANDSHAKE_TIMEOUT'
  | 'DOCUMENT_TOO_LARGE'
  | 'AWARENESS_TOO_LARGE'
  | 'TOO_MANY_PENDING'
  | 'RATE_LIMITED'

const closeCodeOf: Record<ErrorCode, CloseCodeValue> = {
  TEXT_FRAME: CloseCode.unsupportedData,
  MESSAGE_TOO_BIG: CloseCode.messageTooBig,
  TOO_MANY_FRAGMENTS: CloseCode.policyViolation,
  MALFORMED_MESSAGE: CloseCode.malformedMessage,
  INVALID_UPDATE: CloseCode.invalidUpdate,
  LOAD_FAILED: CloseCode.internalError,
  INTERNAL: CloseCode.internalError,
  SHUTTING_DOWN: CloseCode.serviceRestart,
  SLOW_READER: CloseCode.tryAgainLater,
  TOKEN_EXPIRED: CloseCode.tokenExpired,
  HANDSHAKE_TIMEOUT: CloseCode.handshakeTimeout,
  DOCUMENT_TOO_LARGE: CloseCode.tooLarge,
  AWARENESS_TOO_LARGE: CloseCode.tooLarge,
  TOO_MANY_PENDING: CloseCode.invalidUpdate,
  RATE_LIMITED: CloseCode.rateLimited,
}

/** An error that ends one connection, never the process or the room. */
export class TandemError extends Error {
  readonly code: ErrorCode
  readonly closeCode: CloseCodeValue

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'TandemError'
    this.code = code
    this.closeCode = closeCodeOf[code]
  }
}

/** Every error code with its close code, for docs checks and logs. */
export const errorCatalogue: ReadonlyArray<{ code: ErrorCode; closeCode: CloseCodeValue }> = Object.entries(
  closeCodeOf,
).map(([code, closeCode]) => ({ code: code as ErrorCode, closeCode }))

/** WebSocket close reasons must fit in 123 bytes; longer ones make `ws` throw. */
export function closeReason(message: string): string {
  const bytes = Buffer.from(message, 'utf8')
  if (bytes.length <= 123) return message
  return bytes.subarray(0, 120).toString('utf8').replace(/\uFFFD$/, '') + '...'
}

/** Wraps anything thrown while handling a message: our own errors pass through, the rest are bugs. */
export function asTandemError(err: unknown): TandemError {
  if (err instanceof TandemError) return err
  return new TandemError('INTERNAL', `internal error: ${(err as Error)?.message ?? String(err)}`, { cause: err })
}
