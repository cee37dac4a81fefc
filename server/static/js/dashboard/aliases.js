// A node's named aliases (active, champion, ...): list, set/move, remove, and each alias's history.

import { del, get, post, query } from "../api.js";
import { confirmDialog } from "../confirm.js";
import { h, replace, uid, when } from "../dom.js";

const SUGGESTED = ["champion", "challenger", "staging", "active"];
/** Moving these changes what the service (active) or the team (champion) uses: ask first. */
const GUARDED = new Set(["active", "champion"]);
const NAME_PATTERN = "[a-z][a-z0-9_.\\-]{0,63}";
const HISTORY_PAGE = 20;

/** An alias as a small chip; `implicit` marks `active` before any promotion. */
export function aliasChip(name, { implicit = false } = {}) {
  const title = implicit ? "active by default: the first version, until a promotion" : undefined;
  return h("span", { class: "chip", dataset: { alias: name }, title, text: name });
}

function describe(change) {
  if (change.action === "set") return `set to v${change.to_version}`;
  if (change.action === "remove") return `removed (was v${change.from_version})`;
  return `moved v${change.from_version} → v${change.to_version}`;
}

/**
 * Render the alias panel of a node into `box`.
 * @param {HTMLElement} box
 * @param {{nodeBase: string, versions: () => object[], changed: () => Promise<void>,
 *   predict: ((alias: string) => void) | null}} opts
 *   nodeBase: the node's API path; versions: the node's versions now; changed: after a write;
 *   predict: an alias row's "Predict" (none without it).
 * @returns {{reload: () => Promise<void>, prepare: (version: number) => void, items: () => object[]}}
 */
export function renderAliases(box, { nodeBase, versions, changed, predict = null }) {
  const state = { items: [] };
  const message = h("p", { class: "muted", role: "status", "aria-live": "polite" });
  const listBox = h("div");
  const historyBox = h("div", { class: "alias-history" });
  const nameId = uid("alias-name");
  const versionId = uid("alias-version");
  const listId = uid("alias-suggestions");
  const name = h("input", {
    id: nameId,
    name: "alias",
    required: true,
    maxlength: 64,
    pattern: NAME_PATTERN,
    list: listId,
    autocomplete: "off",
    "aria-describedby": `${nameId}-help`,
  });
  const version = h("select", { id: versionId, name: "version" });
  const suggestions = h("datalist", { id: listId }, SUGGESTED.map((s) => h("option", { value: s })));
  const form = h(
    "form",
    { class: "inline-form alias-form", "aria-label": "Set an alias" },
    h("div", { class: "field inline" }, h("label", { for: nameId, text: "Alias" }), name),
    h("div", { class: "field inline" }, h("label", { for: versionId, text: "Version" }), version),
    h("button", { type: "submit", class: "small", text: "Set alias" }),
  );
  const help = h("p", {
    id: `${nameId}-help`,
    class: "help",
    text: "Lower-case letters, digits, _ . - starting with a letter. Setting an existing alias moves it.",
  });
  replace(box, message, listBox, form, suggestions, help, historyBox);

  function fillVersions(chosen) {
    const live = versions().filter((v) => !v.deleted_at);
    const keep = chosen ?? Number(version.value || 0);
    replace(
      version,
      live.map((v) => h("option", { value: v.version, text: `v${v.version}`, selected: v.version === keep })),
    );
  }

  async function showHistory(alias, cursor = null, appendTo = null) {
    const path = `${nodeBase}/aliases/${encodeURIComponent(alias)}/history`;
    const page = await get(`${path}${query({ limit: HISTORY_PAGE, cursor })}`);
    const rows = page.items.map((c) =>
      h(
        "tr",
        { dataset: { change: c.action } },
        h("td", { text: when(c.changed_at) }),
        h("td", { text: c.changed_by || "—" }),
        h("td", { text: describe(c) }),
      ),
    );
    const more = page.next_cursor
      ? h("button", {
          type: "button",
          class: "secondary small",
          text: "Older changes",
          on: {
            click: (ev) => {
              ev.target.remove();
              showHistory(alias, page.next_cursor, tbody).catch((e) => (message.textContent = e.message));
            },
          },
        })
      : null;
    if (appendTo) {
      appendTo.append(...rows);
      if (more) historyBox.append(more);
      return;
    }
    const tbody = h("tbody", {}, rows);
    const heading = h("h4", { id: uid("alias-history"), text: `History of ${alias}` });
    replace(
      historyBox,
      heading,
      h(
        "table",
        { class: "alias-history-table", "aria-labelledby": heading.id },
        h(
          "thead",
          {},
          h("tr", {}, ["When", "Who", "Change"].map((t) => h("th", { scope: "col", text: t }))),
        ),
        tbody,
      ),
      rows.length ? null : h("p", { class: "muted", text: "No recorded changes: active by default." }),
      more,
    );
  }

  async function remove(alias) {
    const item = state.items.find((a) => a.alias === alias);
    const back = alias === "active" ? " The node's first version becomes active again." : "";
    const sure = await confirmDialog({
      title: `Remove ${alias}?`,
      text: `${alias} stops pointing at v${item?.version}. Its history is kept.${back}`,
      confirm: `Remove ${alias}`,
    });
    if (!sure) return;
    try {
      await del(`${nodeBase}/aliases/${encodeURIComponent(alias)}`);
      message.textContent = `${alias} removed.`;
      await changed();
    } catch (exc) {
      message.textContent = `Removing ${alias} failed: ${exc.message}`;
    }
  }

  async function setAlias(alias, target) {
    const current = state.items.find((a) => a.alias === alias);
    if (current && current.version === target && !current.implicit) {
      message.textContent = `${alias} already points at v${target}.`;
      return;
    }
    if (current && GUARDED.has(alias)) {
      const what = alias === "active" ? "the version the service uses by default" : "the team's chosen model";
      const sure = await confirmDialog({
        title: `Move ${alias} to v${target}?`,
        text: `${alias} (${what}) moves from v${current.version} to v${target}. The move is recorded in its history.`,
        confirm: `Move ${alias}`,
      });
      if (!sure) return;
    }
    try {
      const out = await post(`${nodeBase}/aliases/${encodeURIComponent(alias)}`, { version: target });
      const moved = out.action === "move";
      message.textContent = moved
        ? `${alias} moved from v${out.from_version} to v${out.to_version}.`
        : `${alias} set to v${out.to_version}.`;
      name.value = "";
      await changed();
    } catch (exc) {
      message.textContent = `Setting ${alias} failed: ${exc.message}`;
    }
  }

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (!form.reportValidity()) return;
    setAlias(name.value.trim(), Number(version.value));
  });

  function actions(a) {
    const history = h("button", {
      type: "button",
      class: "secondary small",
      text: "History",
      "aria-label": `History of ${a.alias}`,
      on: { click: () => showHistory(a.alias).catch((e) => (message.textContent = e.message)) },
    });
    const removal = a.implicit
      ? null
      : h("button", {
          type: "button",
          class: "secondary small",
          text: "Remove",
          "aria-label": `Remove ${a.alias}`,
          on: { click: () => remove(a.alias) },
        });
    const predictions = predict
      ? h("button", {
          type: "button",
          class: "secondary small",
          text: "Predict",
          "aria-label": `Predict with ${a.alias}`,
          on: { click: () => predict(a.alias) },
        })
      : null;
    return h("div", { class: "row-actions" }, history, predictions, removal);
  }

  function renderList() {
    if (!state.items.length) {
      replace(listBox, h("p", { class: "muted", text: "No aliases yet." }));
      return;
    }
    const rows = state.items.map((a) =>
      h(
        "tr",
        { dataset: { alias: a.alias } },
        h("th", { scope: "row" }, aliasChip(a.alias, a)),
        h("td", { class: "num", text: `v${a.version}` }),
        h("td", { text: a.implicit ? "by default" : `${a.updated_by || "—"}, ${when(a.updated_at)}` }),
        h("td", {}, actions(a)),
      ),
    );
    replace(
      listBox,
      h(
        "table",
        { class: "aliases" },
        h("caption", { class: "sr-only", text: "Aliases of this node and the versions they point at" }),
        h(
          "thead",
          {},
          h("tr", {}, ["Alias", "Version", "Last changed", "Actions"].map((t) => h("th", { scope: "col", text: t }))),
        ),
        h("tbody", {}, rows),
      ),
    );
  }

  async function reload() {
    const out = await get(`${nodeBase}/aliases`);
    state.items = out.items;
    renderList();
    fillVersions();
  }

  /** Preselect `target` in the form and move focus to the alias name (the versions table's "Set alias"). */
  function prepare(target) {
    fillVersions(target);
    name.focus();
  }

  return { reload, prepare, items: () => state.items };
}
