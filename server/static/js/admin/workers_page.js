// Admins: the training workers (host, pid, pool size, last heartbeat) and the jobs each runs.

import { get } from "../api.js";
import { h, replace, when } from "../dom.js";

const REFRESH_MS = 5000;
const COLUMNS = ["Worker", "Host", "PID", "Pool", "Concurrency", "Jobs running", "Last heartbeat"];

function jobLinks(jobs) {
  if (!jobs.length) return h("span", { class: "muted", text: "none" });
  const list = h("ul", { class: "plain" });
  for (const job of jobs) {
    list.append(
      h(
        "li",
        {},
        h("a", { href: `/user/training-jobs/${encodeURIComponent(job.id)}`, text: job.id }),
        h("span", { class: "muted", text: ` ${job.status}, heartbeat ${when(job.heartbeat_at) || "—"}` }),
      ),
    );
  }
  return list;
}

function row(worker) {
  return h(
    "tr",
    { "data-worker": worker.name },
    h("td", { text: worker.node || worker.name }),
    h("td", { text: worker.host }),
    h("td", { text: worker.pid == null ? "—" : String(worker.pid) }),
    h("td", { text: worker.pool || "—" }),
    h("td", { text: worker.concurrency == null ? "—" : String(worker.concurrency) }),
    h("td", {}, jobLinks(worker.jobs_running)),
    h("td", { text: when(worker.last_heartbeat) || "—" }),
  );
}

export async function mount(main) {
  const body = h("tbody");
  const status = h("p", { class: "muted", "aria-live": "polite" });
  const unattached = h("div");
  replace(
    main,
    h(
      "section",
      { class: "dash", "aria-labelledby": "workers-title" },
      h("h1", { id: "workers-title", text: "Workers" }),
      h("p", { class: "muted", text: "Live training workers, refreshed every 5 seconds." }),
      h(
        "table",
        { class: "jobs" },
        h("thead", {}, h("tr", {}, ...COLUMNS.map((c) => h("th", { scope: "col", text: c })))),
        body,
      ),
      status,
      unattached,
    ),
  );

  async function refresh() {
    const data = await get("/workers");
    replace(body, ...data.workers.map(row));
    status.textContent = data.workers.length ? "" : "No worker has sent a heartbeat recently.";
    if (data.unattached_jobs.length) {
      replace(
        unattached,
        h("h2", { text: "Running jobs without a live worker" }),
        h("p", { class: "muted", text: "The reaper requeues or fails these once their heartbeat is stale." }),
        jobLinks(data.unattached_jobs),
      );
    } else {
      replace(unattached);
    }
  }

  await refresh();
  const timer = setInterval(() => {
    refresh().catch((exc) => {
      status.textContent = `Could not refresh: ${exc.message}`;
    });
  }, REFRESH_MS);
  return () => clearInterval(timer);
}
