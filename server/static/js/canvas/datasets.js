// The dataset bar: choose one of the user's datasets or upload a CSV/Parquet file.

import { DATASETS_CHANGED, get, query, request } from "../api.js";
import { h, uid } from "../dom.js";

export async function listDatasets() {
  const page = await get(`/datasets${query({ limit: 200 })}`);
  return page.items;
}

export async function uploadDataset(file) {
  const form = new FormData();
  form.append("file", file, file.name);
  const dataset = await request("POST", "/datasets", { form });
  window.dispatchEvent(new CustomEvent(DATASETS_CHANGED, { detail: dataset }));
  return dataset;
}

/**
 * @param {object} ctx {datasets, currentId, choose(id), uploaded(dataset)}
 */
export function datasetBar(ctx) {
  const selectId = uid("dataset");
  const fileId = uid("upload");
  const errorId = uid("upload-error");
  const select = h("select", { id: selectId, "aria-describedby": errorId });
  const prompt = ctx.datasets.length ? "Choose a dataset…" : "No datasets yet: upload one";
  select.append(h("option", { value: "", text: prompt }));
  for (const d of ctx.datasets) {
    select.append(h("option", { value: d.id, text: `${d.name} (${d.n_rows} rows)`, selected: d.id === ctx.currentId }));
  }
  select.addEventListener("change", () => select.value && ctx.choose(select.value));
  const file = h("input", { id: fileId, type: "file", accept: ".csv,.parquet,text/csv", "aria-describedby": errorId });
  const error = h("p", { id: errorId, class: "field-error", role: "alert" });
  file.addEventListener("change", async () => {
    const chosen = file.files && file.files[0];
    if (!chosen) return;
    error.textContent = "Uploading…";
    try {
      const dataset = await uploadDataset(chosen);
      error.textContent = "";
      file.value = "";
      ctx.uploaded(dataset);
    } catch (exc) {
      error.textContent = `Upload failed: ${exc.message}`;
    }
  });
  return h(
    "div",
    { class: "dataset-bar" },
    h("div", { class: "field inline" }, h("label", { for: selectId, text: "Dataset" }), select),
    h("div", { class: "field inline" }, h("label", { for: fileId, text: "Upload CSV or Parquet" }), file),
    error,
  );
}
