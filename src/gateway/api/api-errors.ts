// Every answer of the server API that is not a success: a stable code and
// its HTTP status, with a one-line message. The body is always
// {"error": {"code", "message"}}.

export class ApiError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const apiErrors = {
  unauthorized: () => new ApiError('API_ERR_UNAUTHORIZED', 401, 'missing or wrong API key (Authorization: Bearer KEY)', { 'WWW-Authenticate': 'Bearer' }),
  notFound: (path: string) => new ApiError('API_ERR_NOT_FOUND', 404, `no such API route: ${path.slice(0, 100)}`),
  method: (allowed: string) => new ApiError('API_ERR_METHOD', 405, `method not allowed here; use ${allowed}`, { Allow: allowed }),
  bodyTooLarge: (limit: number) => new ApiError('API_ERR_BODY_TOO_LARGE', 413, `request body over ${limit} bytes`),
  malformedJson: (detail = 'the request body is not a JSON object') => new ApiError('API_ERR_MALFORMED_JSON', 400, detail),
  aborted: () => new ApiError('API_ERR_ABORTED', 400, 'the client went away before the end of its request'),
  badParams: (detail: string) => new ApiError('API_ERR_BAD_PARAMS', 400, detail),
  unknownMethod: (method: string) => new ApiError('API_ERR_UNKNOWN_METHOD', 400, `no such method: ${method.slice(0, 64)}`),
  noHistory: (topic: string) => new ApiError('API_ERR_NO_HISTORY', 400, `topic ${JSON.stringify(topic.slice(0, 64))} keeps no history (see --history-size, --history-prefix)`),
  unavailable: (detail: string) => new ApiError('API_ERR_UNAVAILABLE', 503, detail, { 'Retry-After': '1' }),
  internal: () => new ApiError('API_ERR_INTERNAL', 500, 'internal error'),
} as const;
