// Entry point: sign-in, the live connection and the client-side choice of page.

import { ApiError, get, onUnauthorized } from "./api.js";
import { h, replace, uid } from "./dom.js";
import { LiveClient } from "./live.js";
import { clearToken, getToken, setToken } from "./session.js";

const main = document.getElementById("main");
const signOutButton = document.getElementById("sign-out");
const liveState = document.getElementById("live-state");
let live = null;
let unmount = null;

const LIVE_TEXT = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
  unauthorized: "Live updates: token rejected",
};

function route(pathname) {
  const report = pathname.match(/^\/user\/training-jobs\/([^/]+)\/report\/?$/);
  if (report) return { page: "report", jobId: decodeURIComponent(report[1]) };
  const job = pathname.match(/^\/user\/training-jobs\/([^/]+)\/?$/);
  if (job) return { page: "job", jobId: decodeURIComponent(job[1]) };
  if (/^\/user\/training-jobs\/?$/.test(pathname)) return { page: "jobs" };
  if (/^\/pipelines\/?$/.test(pathname)) return { page: "pipelines" };
  if (/^\/admin\/workers\/?$/.test(pathname)) return { page: "workers" };
  return { page: "canvas" };
}

async function loadPage(page) {
  if (page === "job") return import("./dashboard/job_page.js");
  if (page === "report") return import("./dashboard/report_page.js");
  if (page === "jobs") return import("./dashboard/list_page.js");
  if (page === "pipelines") return import("./pipelines/page.js");
  if (page === "workers") return import("./admin/workers_page.js");
  return import("./canvas/page.js");
}

function teardown() {
  if (unmount) unmount();
  unmount = null;
  if (live) live.stop();
  live = null;
  liveState.textContent = "";
}

async function start() {
  teardown();
  const where = route(location.pathname);
  for (const link of document.querySelectorAll("[data-nav]")) {
    const section = where.page === "job" ? "jobs" : where.page;
    const current = link.dataset.nav === section;
    if (current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (!getToken()) {
    showSignIn();
    return;
  }
  signOutButton.hidden = false;
  showAdminLinks();
  showSignedIn();
  live = new LiveClient().start();
  live.onState((state) => {
    liveState.textContent = LIVE_TEXT[state] || state;
    liveState.dataset.state = state;
  });
  replace(main, h("p", { class: "muted", text: "Loading…" }));
  try {
    const module = await loadPage(where.page);
    unmount = await module.mount(main, { live, route: where });
  } catch (exc) {
    if (exc instanceof ApiError && exc.status === 401) return;
    console.error(exc);
    replace(main, h("p", { class: "error", role: "alert", text: `The page could not be loaded: ${exc.message}` }));
  }
}

/** The header names the signed-in user (GET /users/me). */
async function showSignedIn() {
  const who = document.getElementById("whoami");
  try {
    const me = await get("/users/me");
    who.textContent = `Signed in as ${me.name}${me.is_admin ? " (admin)" : ""}`;
    who.hidden = false;
    signOutButton.setAttribute("aria-label", `Sign out ${me.name}`);
  } catch {
    who.hidden = true;
  }
}

// Admin pages are linked only for admins: the workers list answers 200 to them, 403 to others.
async function showAdminLinks() {
  let admin = false;
  try {
    await get("/workers");
    admin = true;
  } catch {
    admin = false;
  }
  for (const link of document.querySelectorAll("[data-admin]")) link.hidden = !admin;
}

function showSignIn(message) {
  document.getElementById("whoami").hidden = true;
  for (const link of document.querySelectorAll("[data-admin]")) link.hidden = true;
  teardown();
  signOutButton.hidden = true;
  const inputId = uid("token");
  const errorId = uid("token-error");
  const input = h("input", {
    id: inputId,
    name: "token",
    type: "password",
    autocomplete: "off",
    required: true,
    "aria-describedby": errorId,
  });
  const error = h("p", { id: errorId, class: "field-error", role: "alert", text: message || "" });
  const form = h(
    "form",
    { class: "card sign-in", "aria-labelledby": "sign-in-title", novalidate: true },
    h("h1", { id: "sign-in-title", text: "Sign in" }),
    h("p", {
      class: "muted",
      text: "Paste your API token (create one with `mlw users create NAME`). It is kept for this browser tab only.",
    }),
    h("label", { for: inputId, text: "API token" }),
    input,
    error,
    h("button", { type: "submit", text: "Sign in" }),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const token = input.value.trim();
    if (!token) {
      error.textContent = "Enter a token.";
      input.setAttribute("aria-invalid", "true");
      input.focus();
      return;
    }
    try {
      await get("/users/me/training-jobs?limit=1", { token });
    } catch (exc) {
      error.textContent = exc.status === 401 ? "This token is unknown or revoked." : exc.message;
      input.setAttribute("aria-invalid", "true");
      input.focus();
      return;
    }
    setToken(token);
    start();
  });
  replace(main, form);
  input.focus();
}

signOutButton.addEventListener("click", () => {
  teardown();
  clearToken();
  showSignIn();
});

onUnauthorized(() => {
  clearToken();
  showSignIn("Your token was rejected; sign in again.");
});

start();
