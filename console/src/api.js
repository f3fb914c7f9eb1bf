// Calls to the server this page came from (the CSP's connect-src allows nothing else). An
// answer that is not 2xx becomes an ApiError with the server's stable code and message, which
// the pages show as they are.
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// accept: statuses whose JSON body is an answer, not an error (/ready's 503 says what is not ready).
export async function get(path, { accept = [] } = {}) {
  let res;
  try {
    res = await fetch(path, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
  } catch {
    throw new ApiError(0, 'UNREACHABLE', 'The server did not answer: check that riskd serve is running, then reload.');
  }
  const body = await res.json().catch(() => null);
  if (!res.ok && !accept.includes(res.status)) {
    throw new ApiError(res.status, body?.error?.code ?? `HTTP_${res.status}`,
      body?.error?.message ?? `The server answered ${res.status}.`);
  }
  return body;
}
