// The bearer token, kept for the browser session only (sessionStorage: gone when the tab closes).

const KEY = "mlw.token";

export function getToken() {
  return sessionStorage.getItem(KEY);
}

export function setToken(token) {
  sessionStorage.setItem(KEY, token.trim());
}

export function clearToken() {
  sessionStorage.removeItem(KEY);
}
