// The canvas page's small slots: the pipeline name field and the empty-board invitation.

import { replace } from "../dom.js";
import { emptyBoard } from "./board_tools.js";
import { openExample, pipelineNameField } from "./pipeline_io.js";

/** Show the empty-board invitation in `slot` while the graph has no node. */
export function renderEmpty(slot, graph, showNotice) {
  const empty = graph.nodes.length === 0;
  slot.hidden = !empty;
  if (empty && !slot.firstChild) {
    slot.append(
      emptyBoard({
        openExample: async () => {
          try {
            const pid = await openExample();
            location.assign(`/?pipeline=${encodeURIComponent(pid)}`);
          } catch (exc) {
            showNotice(`The example could not be opened: ${exc.message}`);
          }
        },
      }),
    );
  }
}

/** The pipeline's name field in `slot`; a name typed before the first save is saved with it. */
export function renderName(slot, { state, saver, showNotice }) {
  replace(
    slot,
    pipelineNameField({
      value: state.name,
      pipelineId: () => saver.pipelineId,
      changed: (name) => {
        state.name = name;
        if (!saver.pipelineId) saver.schedule();
      },
      failed: (exc) => showNotice(`The pipeline could not be renamed: ${exc.message}`),
    }),
  );
}
