// The app's start: language, router (hash routes, so e-mail links' tokens never reach a server log), header
// with whose record this is, the waiting count, and the service worker.

import { loadSession, Offline, SignInNeeded } from "./api.js";
import { clear, h } from "./dom.js";
import { LANGUAGES, language, onLanguageChange, startI18n, t } from "./i18n.js";
import { conflictNotices, dismissNotice, discard, flush, onQueueChange, refused, waiting } from "./queue.js";
import { caregiving, chooseLanguage, choosePatient, go, loadMe, needSignIn, sendLanguage, state } from "./state.js";
import * as auth from "./screens/auth.js";
import * as history from "./screens/history.js";
import * as inbox from "./screens/inbox.js";
import * as more from "./screens/more.js";
import * as poem from "./screens/poem.js";
import * as skinCheck from "./screens/skin-check.js";
import * as today from "./screens/today.js";
import { describeEntry } from "./screens/entries.js";
import { flushNotificationActions } from "./push.js";

const ROUTES = {
  "sign-in": auth.signIn,
  register: auth.register,
  "forgot-password": auth.forgotPassword,
  "reset-password": auth.resetPassword,
  "verify-email": auth.verifyEmail,
  today: today.render,
  history: history.render,
  inbox: inbox.render,
  poem: poem.render,
  "skin-check": skinCheck.render,
  more: more.render,
};
const PUBLIC = new Set(["sign-in", "register", "forgot-password", "reset-password", "verify-email"]);
const TABS = [
  { route: "today", label: "nav.today" },
  { route: "history", label: "nav.history" },
  { route: "inbox", label: "nav.inbox" },
  { route: "more", label: "nav.more" },
];
const RETRY_SECONDS = 30;

const main = document.getElementById("main");
const top = document.getElementById("top");
const status = document.getElementById("status");
const tabs = document.getElementById("tabs");
let notices = document.getElementById("notices");

function currentRoute() {
  const raw = location.hash.slice(1);
  if (raw && !raw.startsWith("/")) return null; // "#main" from the skip link: not a route
  const [name, query = ""] = (raw || "/today").slice(1).split("?");
  return { name, params: new URLSearchParams(query) };
}

// One drawing at a time: a screen asked for while one is drawn (a hash change, the service worker saying a
// reminder's button logged a dose) is drawn after it, never into it.
let drawing = null;
let drawAgain = false;

function show() {
  if (drawing) {
    drawAgain = true;
    return drawing;
  }
  drawing = draw().finally(() => {
    drawing = null;
    if (drawAgain) {
      drawAgain = false;
      show();
    }
  });
  return drawing;
}

async function draw() {
  const route = currentRoute();
  if (!route) return;
  if (!ROUTES[route.name]) return go("today");
  const signedIn = Boolean(await loadSession());
  if (!PUBLIC.has(route.name)) {
    if (!signedIn) return go("sign-in");
    if (!state.me) {
      try {
        await loadMe();
        sendWaiting(); // signed in again, or opened again: what waits goes now
      } catch (error) {
        if (error instanceof SignInNeeded) return needSignIn();
        return showFailure(error);
      }
    }
  } else if (signedIn && route.name === "sign-in" && !state.flash) {
    return go("today");
  }
  drawHeader(route);
  drawTabs(route, !PUBLIC.has(route.name));
  await drawNotices();
  clear(main);
  try {
    await ROUTES[route.name](main, route.params);
  } catch (error) {
    if (error instanceof SignInNeeded) return needSignIn();
    showFailure(error);
  }
  const heading = main.querySelector("h1");
  if (heading) {
    heading.setAttribute("tabindex", "-1");
    heading.focus({ preventScroll: false });
  }
  updateStatus();
}

function showFailure(error) {
  clear(main);
  main.append(
    h("h1", {}, t("error.title")),
    h("p", {}, error instanceof Offline ? t("error.offline_first_time") : t("error.generic")),
    h("button", { type: "button", class: "button", onclick: () => show() }, t("error.retry")),
  );
}

function languageButton() {
  const other = language() === "ar" ? "en" : "ar";
  return h(
    "button",
    { type: "button", class: "button secondary language", lang: other,
      onclick: () => chooseLanguage(other) },
    LANGUAGES[other].name,
  );
}

function drawHeader(route) {
  clear(top);
  const row = h("div", { class: "top-row" }, h("p", { class: "brand" }, t("app.title")), languageButton());
  top.append(row);
  if (PUBLIC.has(route.name) || !state.me) return;
  const patients = state.me.patients || [];
  if (!state.patient) return;
  if (patients.length > 1) {
    const select = h(
      "select",
      { id: "patient-switch", class: "patient-switch", onchange: (event) => {
        choosePatient(event.target.value);
        show();
      } },
      patients.map((patient) => h("option", { value: patient.id, selected: patient.id === state.patient.id }, patient.first_name)),
    );
    top.append(h("div", { class: "logging-for" }, h("label", { for: "patient-switch" }, t("patient.logging_for_label")), select));
  } else {
    top.append(h("p", { class: "logging-for" }, caregiving()
      ? t("patient.logging_for", { name: state.patient.first_name })
      : t("patient.your_record", { name: state.patient.first_name })));
  }
}

function drawTabs(route, visible) {
  clear(tabs);
  tabs.hidden = !visible;
  tabs.setAttribute("aria-label", t("nav.label"));
  const list = h("ul", {});
  for (const tab of TABS) {
    const current = route.name === tab.route || (tab.route === "today" && ["poem", "skin-check"].includes(route.name));
    list.append(h("li", {}, h("a", { href: `#/${tab.route}`, "aria-current": current ? "page" : null }, t(tab.label))));
  }
  tabs.append(list);
}

async function drawNotices() {
  if (!notices) return;
  // Built apart and put in at once: two drawings at the same time (a send and a screen) never show one twice.
  const drawn = [];
  if (!state.me) return notices.replaceChildren();
  for (const notice of await conflictNotices()) {
    drawn.push(h("div", { class: "notice warning" },
      h("p", {}, h("strong", {}, t("sync.conflict_title")), " ", t("sync.conflict_text")),
      notice.stored ? h("p", {}, t("sync.kept"), " ", describeEntry(notice.kind, notice.stored)) : null,
      h("button", { type: "button", class: "button secondary", onclick: async () => { await dismissNotice(notice.id); drawNotices(); } }, t("sync.dismiss"))));
  }
  for (const item of await refused()) {
    const messages = Object.entries(item.errors || {}).map(([key, value]) => `${[].concat(value).join(" ")}`);
    drawn.push(h("div", { class: "notice warning" },
      h("p", {}, h("strong", {}, t("sync.refused_title")), " ", describeEntry(item.kind, item.body)),
      h("p", {}, messages.join(" ")),
      h("button", { type: "button", class: "button secondary", onclick: async () => { await discard(item.id); drawNotices(); } }, t("sync.discard"))));
  }
  notices.replaceChildren(...drawn);
}

async function updateStatus() {
  const count = state.me ? (await waiting()).length : 0;
  const offline = !navigator.onLine;
  let text = "";
  if (count && offline) text = t("sync.waiting_offline", { count });
  else if (count) text = t("sync.waiting", { count });
  else if (offline) text = t("sync.offline");
  status.textContent = text;
  status.hidden = !text;
  status.dataset.waiting = String(count);
}

/** Send what waits; an expired session asks to sign in, and the queue goes after. */
export async function sendWaiting() {
  if (!(await loadSession())) return;
  flushNotificationActions(); // snoozes and acknowledgements a reminder's buttons could not send
  if (state.me) sendLanguage(); // a language chosen offline
  try {
    await flush();
  } catch (error) {
    if (error instanceof SignInNeeded) needSignIn();
  }
  await updateStatus();
  await drawNotices();
}

async function start() {
  await startI18n();
  document.querySelector(".skip-link")?.addEventListener("click", (event) => {
    event.preventDefault();
    main.focus();
  });
  if (!notices) {
    notices = h("section", { id: "notices", class: "notices", "aria-live": "polite" });
    main.before(notices);
  }
  onLanguageChange(() => show());
  onQueueChange(() => updateStatus());
  window.addEventListener("hashchange", () => show());
  window.addEventListener("online", () => sendWaiting());
  window.addEventListener("offline", () => updateStatus());
  setInterval(() => {
    if (navigator.onLine) sendWaiting();
  }, RETRY_SECONDS * 1000);
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/app/sw.js", { scope: "/app/", type: "classic" }).catch(() => {});
    // A reminder's "Applied" logged a dose, or sent what waited: show it.
    navigator.serviceWorker.addEventListener("message", (event) => {
      if (event.data?.type !== "queue-changed") return;
      updateStatus();
      const route = currentRoute();
      if (route && ["today", "inbox"].includes(route.name) && !main.contains(document.activeElement?.closest("form"))) show();
    });
  }
  await show();
  sendWaiting();
}

start();
