// Calls to the server this page came from (the CSP's connect-src allows nothing else). An
// answer that is not 2xx becomes an ApiError with the server's stable code and message, which
// the pages show as they are. The session (who is signed in, their permissions and the CSRF
// token) lives in this module only: never in storage or the URL; the credential itself is an
// HttpOnly cookie the script cannot read.
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

let session = { user: null };
const listeners = new Set();
export const current = () => session;
export const can = (perm) => Boolean(session.user && session.permissions?.includes(perm));
export const onSession = (fn) => listeners.add(fn);
function setSession(s) {
  session = s?.user ? s : { user: null };
  for (const fn of listeners) fn(session);
}

async function call(method, path, body, accept = []) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && session.csrf_token) headers['X-CSRF-Token'] = session.csrf_token;
  let res;
  try {
    res = await fetch(path, {
      method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'UNREACHABLE', 'The server did not answer: check that riskd serve is running, then reload.');
  }
  const data = await res.json().catch(() => null);
  if (!res.ok && !accept.includes(res.status)) {
    const err = new ApiError(res.status, data?.error?.code ?? `HTTP_${res.status}`,
      data?.error?.message ?? `The server answered ${res.status}.`);
    // the session ended (expired, idle, revoked, the user disabled): back to the sign-in page
    if (res.status === 401 && session.user && path.startsWith('/v1/admin/')) setSession(null);
    throw err;
  }
  return data;
}

// accept: statuses whose JSON body is an answer, not an error (/ready's 503 says what is not ready).
export const get = (path, { accept = [] } = {}) => call('GET', path, undefined, accept);
export const post = (path, body = {}) => call('POST', path, body);
export const put = (path, body = {}) => call('PUT', path, body);

// Who is signed in (a 200 with {"user": null} when nobody is).
export async function restore() {
  setSession(await call('GET', '/v1/admin/session'));
  return session;
}

export async function signIn(token) {
  setSession(await call('POST', '/v1/admin/session', { token }));
  return session;
}

// The session is forgotten here only once the server has ended it: a sign-out that failed says so
// and keeps the page signed in (its cookie still works).
export async function signOut() {
  await call('DELETE', '/v1/admin/session');
  setSession(null);
}
