// Signing in, registering, the forgotten password, and the two links e-mails carry:
//   /app/#/verify-email?token=...            -> POST auth/verify-email/
//   /app/#/reset-password?uid=...&token=...  -> POST auth/password/reset/confirm/

import { anonymous, ApiError, lastEmail, Offline, signIn as obtainTokens } from "../api.js";
import { h } from "../dom.js";
import { language, t } from "../i18n.js";
import { choiceGroup, clearErrors, field, formError, formValues, selectField, showErrors } from "../forms.js";
import { go, state } from "../state.js";
import { waiting } from "../queue.js";

const CONDITIONS = ["atopic_dermatitis", "cle_acute", "cle_subacute", "cle_discoid", "cle_other"];

function submitButton(label) {
  return h("button", { type: "submit", class: "button primary" }, label);
}

/** Run a form's request; a 400 shows the API's own messages in the form, no network says so. */
async function submitting(form, work) {
  clearErrors(form);
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    await work();
  } catch (error) {
    if (error instanceof ApiError) showErrors(form, error.body);
    else if (error instanceof Offline) showErrors(form, { detail: t("error.offline_action") });
    else showErrors(form, { detail: t("error.generic") });
  } finally {
    button.disabled = false;
  }
}

function flashMessage() {
  const flash = state.flash;
  state.flash = null;
  if (!flash) return null;
  return h("div", { class: `notice ${flash.kind}`, role: "status" }, h("p", {}, t(flash.text, flash.vars || {})));
}

export async function signIn(main) {
  const flash = flashMessage();
  const queued = (await waiting()).length;
  const form = h(
    "form",
    { novalidate: true, class: "stack" },
    formError(),
    field({ label: t("auth.email"), name: "email", type: "email", autocomplete: "username", required: true,
      value: state.lastEmail || (await lastEmail()) || "" }),
    field({ label: t("auth.password"), name: "password", type: "password", autocomplete: "current-password", required: true }),
    submitButton(t("auth.sign_in")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const values = formValues(form);
    submitting(form, async () => {
      await obtainTokens(values.email.trim(), values.password);
      state.lastEmail = values.email.trim();
      state.me = null;
      go("today");
    });
  });
  main.append(...[ // native append writes a null as the text "null": leave out what is not shown
    h("h1", {}, t("auth.sign_in_title")),
    flash,
    queued ? h("p", { class: "notice info" }, t("auth.queue_safe", { count: queued })) : null,
    form,
    h("p", {}, h("a", { href: "#/forgot-password" }, t("auth.forgot"))),
    h("p", {}, t("auth.no_account"), " ", h("a", { href: "#/register" }, t("auth.register_link"))),
  ].filter(Boolean));
}

export async function register(main) {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  const patientFields = h(
    "div",
    { class: "stack" },
    field({ label: t("register.birth_date"), name: "birth_date", type: "date", hint: t("register.birth_date_hint") }),
    field({ label: t("register.timezone"), name: "timezone", type: "text", value: zone, hint: t("register.timezone_hint"),
      autocomplete: "off" }),
    selectField({ label: t("register.condition"), name: "condition", value: "atopic_dermatitis",
      options: CONDITIONS.map((code) => ({ value: code, label: t(`condition.${code}`) })) }),
  );
  const form = h(
    "form",
    { novalidate: true, class: "stack" },
    formError(),
    choiceGroup({ legend: t("register.who"), name: "role", checked: "patient", options: [
      { value: "patient", label: t("register.role_patient") },
      { value: "caregiver", label: t("register.role_caregiver") },
    ] }),
    field({ label: t("register.first_name"), name: "first_name", autocomplete: "given-name", required: true }),
    field({ label: t("register.last_name"), name: "last_name", autocomplete: "family-name" }),
    field({ label: t("auth.email"), name: "email", type: "email", autocomplete: "email", required: true }),
    field({ label: t("auth.password"), name: "password", type: "password", autocomplete: "new-password", required: true,
      hint: t("register.password_hint") }),
    patientFields,
    submitButton(t("register.submit")),
  );
  form.addEventListener("change", () => {
    patientFields.hidden = formValues(form).role !== "patient";
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const values = formValues(form);
    const body = { email: values.email.trim(), password: values.password, first_name: values.first_name,
      last_name: values.last_name, role: values.role, language: language() };
    if (values.role === "patient") Object.assign(body, { birth_date: values.birth_date, timezone: values.timezone,
      condition: values.condition });
    submitting(form, async () => {
      await anonymous("POST", "auth/register/", body);
      form.replaceWith(h("div", { class: "notice success", role: "status" }, h("p", {}, t("register.done")),
        h("p", {}, h("a", { href: "#/sign-in" }, t("auth.sign_in")))));
    });
  });
  main.append(h("h1", {}, t("register.title")), form,
    h("p", {}, h("a", { href: "#/sign-in" }, t("auth.have_account"))));
}

export async function forgotPassword(main) {
  const form = h("form", { novalidate: true, class: "stack" }, formError(),
    field({ label: t("auth.email"), name: "email", type: "email", autocomplete: "email", required: true }),
    submitButton(t("forgot.submit")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submitting(form, async () => {
      await anonymous("POST", "auth/password/reset/", { email: formValues(form).email.trim() });
      form.replaceWith(h("div", { class: "notice success", role: "status" }, h("p", {}, t("forgot.done"))));
    });
  });
  main.append(h("h1", {}, t("forgot.title")), h("p", {}, t("forgot.intro")), form,
    h("p", {}, h("a", { href: "#/sign-in" }, t("auth.back_to_sign_in"))));
}

export async function resetPassword(main, params) {
  const form = h("form", { novalidate: true, class: "stack" }, formError(),
    h("div", { dataset: { field: "token" } }, h("p", { class: "field-error", hidden: true })),
    field({ label: t("reset.new_password"), name: "new_password", type: "password", autocomplete: "new-password",
      required: true, hint: t("register.password_hint") }),
    submitButton(t("reset.submit")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const body = { uid: params.get("uid") || "", token: params.get("token") || "", new_password: formValues(form).new_password };
    submitting(form, async () => {
      await anonymous("POST", "auth/password/reset/confirm/", body);
      state.flash = { kind: "success", text: "reset.done" };
      go("sign-in");
    });
  });
  main.append(h("h1", {}, t("reset.title")), form);
}

export async function verifyEmail(main, params) {
  const result = h("div", { role: "status", class: "notice info" }, h("p", {}, t("verify.working")));
  main.append(h("h1", {}, t("verify.title")), result);
  try {
    await anonymous("POST", "auth/verify-email/", { token: params.get("token") || "" });
    result.className = "notice success";
    result.replaceChildren(h("p", {}, t("verify.done")), h("p", {}, h("a", { href: "#/sign-in" }, t("auth.sign_in"))));
  } catch (error) {
    result.className = "notice warning";
    const message = error instanceof ApiError ? [].concat(error.body.token || error.body.detail || t("error.generic")).join(" ")
      : t("error.offline_action");
    result.replaceChildren(h("p", {}, message), h("p", {}, h("a", { href: "#/register" }, t("verify.again"))));
  }
}
