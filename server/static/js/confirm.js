// A modal confirmation (native <dialog>: focus moves in, Escape cancels, focus returns after).

import { h } from "./dom.js";

/**
 * Ask before an action with consequences.
 * @param {object} opts {title, text, confirm: button text}
 * @returns {Promise<boolean>} true when confirmed
 */
export function confirmDialog({ title, text, confirm }) {
  const opener = document.activeElement;
  return new Promise((resolve) => {
    const ok = h("button", { type: "button", text: confirm });
    const cancel = h("button", { type: "button", class: "secondary", text: "Cancel" });
    const dialog = h(
      "dialog",
      { class: "confirm", "aria-labelledby": "confirm-title", "aria-describedby": "confirm-text" },
      h("h2", { id: "confirm-title", text: title }),
      h("p", { id: "confirm-text", text }),
      h("div", { class: "actions" }, cancel, ok),
    );
    let answered = false;
    const done = (value) => {
      if (answered) return;
      answered = true;
      dialog.close();
      dialog.remove();
      opener?.focus?.();
      resolve(value);
    };
    ok.addEventListener("click", () => done(true));
    cancel.addEventListener("click", () => done(false));
    dialog.addEventListener("cancel", (ev) => {
      ev.preventDefault();
      done(false);
    });
    document.body.append(dialog);
    dialog.showModal();
    ok.focus();
  });
}
