/* The ingest page: runs and the quarantine, kept current by server-sent events; the retry button.
   Each event response is short and the EventSource asks again a second later (the server's retry:),
   so reconnecting is the normal rhythm, not a fault: only a connection lost for a while is shown. */
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  let quarantined = Number($("quarantine-count").textContent);

  function cells(row, values) {
    for (const value of values) {
      const td = row.insertCell();
      if (value instanceof Node) td.append(value);
      else td.textContent = value;
    }
  }

  function empty(body, text) {
    cells(body.insertRow(), [text]);
    body.rows[0].className = "empty";
    body.rows[0].cells[0].colSpan = 6;
  }

  function when(seconds) {
    return new Date(seconds * 1000).toLocaleString();
  }

  function renderRuns(runs) {
    const body = $("runs").tBodies[0];
    body.replaceChildren();
    if (!runs.length) return empty(body, "No runs in the last week.");
    for (const run of runs) {
      const row = body.insertRow();
      row.dataset.run = run.run_id;
      row.dataset.finished = String(run.finished);
      const bar = document.createElement("progress");
      bar.max = run.total || 1;
      bar.value = run.done;
      bar.setAttribute("aria-label", `${run.catalogue}: ${run.done} of ${run.total} done`);
      const outcomes = ["indexed", "updated", "unchanged", "deleted", "quarantined"]
        .filter((k) => run[k]).map((k) => `${run[k]} ${k}`).join(", ");
      cells(row, [run.catalogue, when(run.started_at), bar, `${run.done} / ${run.total}`, run.per_second, outcomes]);
      row.cells[3].className = "done";
    }
  }

  async function renderQuarantine() {
    const response = await fetch("/admin/api/quarantine");
    if (!response.ok) return;
    const { records } = await response.json();
    const body = $("quarantine").tBodies[0];
    body.replaceChildren();
    if (!records.length) return empty(body, "Nothing is quarantined.");
    for (const r of records) {
      const row = body.insertRow();
      row.dataset.product = r.product_id || "";
      cells(row, [r.kind, r.product_id || `line ${r.line}`, r.reason, r.message, r.attempts, r.last_seen]);
    }
  }

  let lastState = null;
  let lostTimer = null;
  const LOST_AFTER_MS = 5000;

  function showBroker(state) {
    $("broker").textContent = state.broker === "ok" ? "Live: updates arrive as workers finish products." : state.broker;
    $("broker").className = state.broker === "ok" ? "ok" : "error";
  }

  function onState(state) {
    lastState = state;
    showBroker(state);
    renderRuns(state.runs);
    $("quarantine-count").textContent = state.quarantined;
    $("retry").disabled = state.retry_running;
    if (state.retry_running) $("retry-status").textContent = "A retry is running.";
    else if (state.retry_error) $("retry-status").textContent = "The retry failed: " + state.retry_error;
    else if ($("retry-status").textContent === "A retry is running.") $("retry-status").textContent = "The retry is done.";
    if (state.quarantined !== quarantined) {
      quarantined = state.quarantined;
      renderQuarantine();
    }
  }

  const events = new EventSource("/admin/events");
  events.addEventListener("ingest", (e) => onState(JSON.parse(e.data)));
  events.addEventListener("open", () => {
    clearTimeout(lostTimer);
    lostTimer = null;
    if (lastState) showBroker(lastState);
  });
  events.addEventListener("error", () => {
    if (lostTimer !== null) return;
    lostTimer = setTimeout(() => {
      $("broker").className = "error";
      $("broker").textContent = events.readyState === EventSource.CLOSED
        ? "The connection to the server was lost; reload the page."
        : "Reconnecting to the server…";
    }, LOST_AFTER_MS);
  });

  $("retry").addEventListener("click", async () => {
    $("retry").disabled = true;
    $("retry-status").textContent = "Starting…";
    const token = document.querySelector('meta[name="csrf-token"]').content;  // the session's anti-forgery token (api/auth.py)
    const response = await fetch("/admin/api/quarantine/retry", { method: "POST", headers: { "X-CSRF-Token": token } });
    const answer = await response.json().catch(() => ({}));
    $("retry-status").textContent = response.ok ? "A retry is running." : (answer.error ? answer.error.message : "The retry could not start.");
    if (!response.ok) $("retry").disabled = false;
  });
})();
