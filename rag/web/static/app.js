// ambigrag page: plain JS, no build step. Every piece of server or user text reaches the page
// through textContent, never parsed as HTML, so a passage containing <script> shows as text.
"use strict";

const $ = (id) => document.getElementById(id);
let current = null; // the interaction shown now

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = text;
  if (cls) node.className = cls;
  return node;
}

function setStatus(text, isError) {
  $("status").textContent = text || "";
  $("status").classList.toggle("error", Boolean(isError));
}

const TIMEOUT_MS = 120000; // the first question may wait for the models to load
const LIMITS = { question: 1000, reply: 1000, "follow-up": 1000, comment: 2000 }; // the server's, in characters

// The server counts characters (code points); maxlength counts UTF-16 units and cut pasted text
// silently, so the page checks the length itself and says so instead.
function checkLength(what, text) {
  const n = [...text.trim()].length;
  if (n > LIMITS[what]) throw new Error("Your " + what + " is " + n + " characters long; the limit is " + LIMITS[what] + ".");
  return text;
}

async function request(method, path, body) {
  let res;
  try {
    res = await fetch(path, {
      method: method,
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (e) {
    if (e.name === "TimeoutError") throw new Error("The server did not answer within " + TIMEOUT_MS / 1000 + " s.");
    throw new Error("Could not reach the server: is `ambigrag serve` still running?");
  }
  let data = null;
  try { data = await res.json(); } catch (e) { data = null; }
  if (!res.ok) throw new Error((data && data.error) || ("HTTP " + res.status));
  return data;
}

const post = (path, body) => request("POST", path, body);

function renderReadings(readings) {
  const list = $("readings");
  list.replaceChildren();
  for (const r of readings) {
    const li = el("li", null, "reading");
    li.append(el("span", r.label, "reading-label"), el("span", ": "), el("span", r.answer, "reading-answer"));
    const cites = el("ul", null, "citations");
    for (const c of r.citations) {
      const details = el("details");
      const title = (c.number ? "[" + c.number + "] " : "") + (c.title || c.id);
      details.append(el("summary", title, "citation-title"), el("p", c.text, "citation-text"));
      const item = el("li");
      item.append(details);
      cites.append(item);
    }
    li.append(cites);
    list.append(li);
  }
}

function markRating(chosen) {   // the chosen rating button (null: none), by colour and aria-pressed
  for (const b of $("rating").querySelectorAll("button")) {
    b.classList.toggle("chosen", b === chosen);
    b.setAttribute("aria-pressed", String(b === chosen));
  }
}

const FOLLOWUP_NAMES = { rephrase: "a correction", negative: "a complaint", positive: "thanks",
                         new_topic: "a new question" };

function render(data) {
  const same = current !== null && current.interaction_id === data.interaction_id;
  if (same && data.followup && data.followup.asked === null) {   // a remark: the answer (and its rating) stay
    $("followup-note").hidden = false;
    $("followup-note").textContent = "Thanks, noted as " + data.followup.label + " feedback on this answer.";
    return;
  }
  const again = same && data.kind === "clarify";
  current = data;
  // the conversation's id in the address: a reload (or a bookmark) shows it again
  if (location.hash !== "#" + data.interaction_id) history.replaceState(null, "", "#" + data.interaction_id);
  $("result").hidden = false;
  // a follow-up is answered as the question it was made into ("he" -> the earlier subject)
  $("asked").textContent = data.question ? (data.followup ? "Answering: " : "You asked: ") + data.question : "";
  const note = $("followup-note");
  note.hidden = !data.followup;
  note.textContent = data.followup ? "Your follow-up was read as: " + FOLLOWUP_NAMES[data.followup.label] : "";
  $("clarify").hidden = data.kind !== "clarify";
  $("answer").hidden = data.kind !== "answer" && data.kind !== "multi";
  $("abstain").hidden = data.kind !== "abstain";
  $("rating").hidden = data.kind === "clarify";
  $("followup-form").hidden = data.kind === "clarify";
  $("rating-status").textContent = "";
  markRating(null);
  if (data.kind === "clarify") {
    // asked again after a reply that matched no option: the text says why
    $("clarify-question").textContent = data.text || data.clarifying_question;
    const opts = $("options");
    opts.replaceChildren();
    data.options.forEach((label, i) => {
      const b = el("button", label, "option");
      b.type = "button";
      b.dataset.choice = String(i + 1);
      b.addEventListener("click", () => sendReply(String(i + 1)));
      opts.append(b);
    });
    if (!again) $("reply-text").value = "";   // a reply that missed stays, to be edited
  } else if (data.kind === "abstain") {
    $("abstain-reason").textContent = data.reason || "";
  } else {
    $("answer-text").textContent = data.text;
    renderReadings(data.readings);
  }
}

let busy = false;

// One request at a time: every control is locked while one is in flight, so a second click can
// neither send a reply twice nor rate (or follow up on) an answer that is being replaced.
function lock(on) {
  busy = on;
  for (const c of document.querySelectorAll("main button, main input")) c.disabled = on;
  $("result").setAttribute("aria-busy", String(on));
}

async function run(work, { newQuestion = false, focusAfter = null } = {}) {
  if (busy) return;
  const from = document.activeElement;   // locking disables it; it gets the focus back on an error
  lock(true);
  setStatus("Working…");
  try {
    await work();
    setStatus("");
    lock(false);
    // the result is read out, and the keyboard stays on the page: on a clarifying question, its first option
    const first = current && current.kind === "clarify" ? $("options").querySelector("button") : null;
    (focusAfter || first || $("result")).focus();
  } catch (e) {
    lock(false);
    if (newQuestion) { $("result").hidden = true; current = null; }   // no old answer under a new question
    setStatus(e.message, true);
    if (from && !from.hidden && document.body.contains(from)) from.focus();
  }
}

function sendReply(text) {
  return run(async () => {
    render(await post("/api/reply", { interaction_id: current.interaction_id, text: checkLength("reply", text) }));
  });
}

function restore() {   // the conversation named in the address, after a reload
  let id = "";
  try { id = decodeURIComponent(location.hash.slice(1)); } catch (e) { id = ""; }   // "#%": no id
  if (!id) {
    if (location.hash) history.replaceState(null, "", location.pathname);
    return;
  }
  run(async () => {
    try {
      render(await request("GET", "/api/interaction/" + encodeURIComponent(id)));
    } catch (e) {
      history.replaceState(null, "", location.pathname);
      throw new Error("Could not show the earlier conversation: " + e.message);
    }
  }, { newQuestion: true });
}

document.addEventListener("DOMContentLoaded", () => {
  $("ask-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    try { checkLength("question", $("question").value); } catch (e) { setStatus(e.message, true); return; }   // the answer stays
    run(async () => render(await post("/api/ask", { question: $("question").value })), { newQuestion: true });
  });
  $("reply-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    sendReply($("reply-text").value);
  });
  for (const b of $("rating").querySelectorAll("button")) {
    b.addEventListener("click", () => run(async () => {   // locked: `current` cannot change meanwhile
      const comment = checkLength("comment", $("rating-comment").value).trim();
      const body = { interaction_id: current.interaction_id, rating: b.dataset.rating };
      if (comment) body.comment = comment;
      await post("/api/feedback", body);
      markRating(b);
      $("rating-comment").value = "";
      $("rating-status").textContent = "Thanks, recorded: " + b.dataset.rating + (comment ? ", with your comment" : "");
    }, { focusAfter: b }));
  }
  $("followup-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    run(async () => {
      const data = await post("/api/followup", { interaction_id: current.interaction_id,
                                                 text: checkLength("follow-up", $("followup-text").value) });
      $("followup-text").value = "";
      render(data);
    });
  });
  window.addEventListener("hashchange", restore);
  restore();   // last: every form has its handler even if this fails
});
