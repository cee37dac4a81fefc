// Metrics of a model version as the versions table, chart and comparison read them.

export const LOWER_IS_BETTER = new Set(["log_loss", "rmse", "mae"]);

/** The version's `name` metric on `partition`, or null when it has none. */
export function metricOf(version, name, partition = "test") {
  const value = ((version.metrics || {})[partition] || {})[name];
  return typeof value === "number" ? value : null;
}
