// The REST client: bearer token, JSON in and out, errors as ApiError naming the field.

import { getToken } from "./session.js";

export const API = "/ml-workflow/api";

/** The window event a page's upload dispatches (`detail`: the new dataset), so lists of datasets follow. */
export const DATASETS_CHANGED = "mlw:datasets-changed";

/** An error answer of the API: `{"error": {"code", "message", "details"}}`. */
export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details || {};
  }

  /** Every field the error names, most specific first ("hyperparameters.max_depth", ...). */
  fields() {
    const out = [];
    if (typeof this.details.field === "string") out.push(this.details.field);
    for (const item of this.details.errors || []) {
      if (item && typeof item.field === "string" && !out.includes(item.field)) out.push(item.field);
    }
    return out;
  }
}

/** Listeners told when the API answers 401 (the page then asks for a token again). */
const unauthorizedListeners = new Set();
export function onUnauthorized(fn) {
  unauthorizedListeners.add(fn);
  return () => unauthorizedListeners.delete(fn);
}

async function toError(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  const err = body && body.error ? body.error : {};
  return new ApiError(
    response.status,
    err.code || `http_${response.status}`,
    err.message || `${response.status} ${response.statusText}`,
    err.details,
  );
}

/**
 * Call the API.
 * @param {string} method
 * @param {string} path below /ml-workflow/api, with the query string
 * @param {object} [options] {json, form, raw: true to get the Response, token, keepalive}
 */
export async function request(method, path, options = {}) {
  const headers = { Accept: "application/json" };
  const token = options.token ?? getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  let body;
  if (options.json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(options.json);
  } else if (options.form) {
    body = options.form;
  }
  let response;
  try {
    response = await fetch(API + path, { method, headers, body, keepalive: Boolean(options.keepalive) });
  } catch (exc) {
    throw new ApiError(0, "network_error", `The server could not be reached (${exc.message}).`, {});
  }
  if (!response.ok) {
    const error = await toError(response);
    if (response.status === 401 && !options.token) unauthorizedListeners.forEach((fn) => fn(error));
    throw error;
  }
  if (options.raw) return response;
  if (response.status === 204) return null;
  return response.json();
}

export const get = (path, options) => request("GET", path, options);
export const post = (path, json, options = {}) => request("POST", path, { ...options, json });
export const put = (path, json, options = {}) => request("PUT", path, { ...options, json });
export const patch = (path, json, options = {}) => request("PATCH", path, { ...options, json });
export const del = (path, options) => request("DELETE", path, options);

/** GET `path` and save the answer as the file `filename` in the browser; resolves to its size in bytes. */
export async function saveDownload(path, filename) {
  const response = await request("GET", path, { raw: true });
  const blob = await response.blob();
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
  return blob.size;
}

/** A query string from an object; arrays repeat the key, blanks are left out. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === "") continue;
    for (const item of Array.isArray(value) ? value : [value]) search.append(key, String(item));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

/** A lookup of `key` in GET `path`, fetched once and shared (forgotten on failure, so retried). */
function cachedLookup(path, key) {
  let pending = null;
  return async () => {
    pending ??= get(path).then(
      (r) => r[key],
      (e) => {
        pending = null;
        throw e;
      },
    );
    return pending;
  };
}

/** Cached schema lookups that drive the forms. */
export const nodeTypeSchemas = cachedLookup("/node-types", "node_types");
export const modelFamilies = cachedLookup("/model-families", "model_families");
