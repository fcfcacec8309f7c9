// Predicted categories and tags on the admin product page: accept, reject or undo one, then reload.
(() => {
  "use strict";
  const token = () => document.querySelector('meta[name="csrf-token"]').content;  // the session's anti-forgery token (api/auth.py)
  const status = (text) => { document.getElementById("review-status").textContent = text; };
  const table = document.getElementById("predicted-tags");
  if (!table) return;

  table.addEventListener("click", async (event) => {
    const button = event.target.closest("button.review");
    if (!button) return;
    const operator = document.getElementById("review-operator");
    if (!operator.value.trim()) { status("Give your name first: every decision is recorded with who made it."); operator.focus(); return; }
    const body = { kind: button.dataset.kind, value: button.dataset.value, decision: button.dataset.decision, operator: operator.value.trim() };
    const buttons = table.querySelectorAll("button.review");
    buttons.forEach((b) => { b.disabled = true; });  // one decision at a time: a second click would race the first
    try {
      const response = await fetch(`/admin/api/products/${encodeURIComponent(table.dataset.product)}/predictions`, {
        method: "POST", headers: { "Content-Type": "application/json", "X-CSRF-Token": token() }, body: JSON.stringify(body),
      });
      const answer = await response.json().catch(() => ({}));
      if (!response.ok) throw new Error(answer.error ? answer.error.message : `The server answered ${response.status}.`);
      sessionStorage.setItem("lookalike-operator", body.operator);
      location.reload();
    } catch (error) {
      status(error.message);
      buttons.forEach((b) => { b.disabled = false; });
    }
  });
  const remembered = sessionStorage.getItem("lookalike-operator");
  if (remembered) document.getElementById("review-operator").value = remembered;
})();
