// Security keys and passkeys (WebAuthn) for staff sign-in: a file, as the Content-Security-
// Policy wants (no inline script). Two kinds of element, found by their data attributes:
//
//   [data-webauthn="authenticate"]: a button signs in with one of the account's keys;
//   form[data-webauthn="register"]: registers a new key under the name typed in the form.
//
// The server's JSON options carry binary values in base64url; they are decoded here, and the
// browser's answer encoded back the same way (as PublicKeyCredential.toJSON() would). Messages
// come translated from the page's data attributes; the server's errors come translated in
// {"detail": "..."}.
(function () {
  "use strict";

  function fromBase64url(text) {
    const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
    const binary = atob(padded);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
    return bytes.buffer;
  }

  function toBase64url(buffer) {
    const bytes = new Uint8Array(buffer);
    let binary = "";
    for (let i = 0; i < bytes.length; i += 1) binary += String.fromCharCode(bytes[i]);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map((item) => Object.assign({}, item, { id: fromBase64url(item.id) }));
  }

  function creationOptions(json) {
    const options = Object.assign({}, json);
    options.challenge = fromBase64url(json.challenge);
    options.user = Object.assign({}, json.user, { id: fromBase64url(json.user.id) });
    options.excludeCredentials = descriptors(json.excludeCredentials);
    return options;
  }

  function requestOptions(json) {
    const options = Object.assign({}, json);
    options.challenge = fromBase64url(json.challenge);
    options.allowCredentials = descriptors(json.allowCredentials);
    return options;
  }

  function credentialJSON(credential) {
    const response = credential.response;
    const out = {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
      clientExtensionResults: credential.getClientExtensionResults
        ? credential.getClientExtensionResults()
        : {},
      response: { clientDataJSON: toBase64url(response.clientDataJSON) },
    };
    if (response.attestationObject) {
      out.response.attestationObject = toBase64url(response.attestationObject);
      out.response.transports = response.getTransports ? response.getTransports() : [];
    } else {
      out.response.authenticatorData = toBase64url(response.authenticatorData);
      out.response.signature = toBase64url(response.signature);
      out.response.userHandle = response.userHandle
        ? toBase64url(response.userHandle)
        : undefined;
    }
    return out;
  }

  function csrfToken(element) {
    const input = element.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  async function post(element, url, body) {
    const answer = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRFToken": csrfToken(element),
      },
      body: JSON.stringify(body || {}),
    });
    let data = {};
    try {
      data = await answer.json();
    } catch (error) {
      data = {};
    }
    if (!answer.ok) {
      const failure = new Error(data.detail || element.dataset.messageFailed);
      failure.fromServer = true;
      throw failure;
    }
    return data;
  }

  function say(element, text) {
    const box = element.querySelector("[data-webauthn-message]");
    if (box) {
      box.textContent = text;
      box.hidden = !text;
    }
  }

  function explain(element, error) {
    if (error && error.fromServer) return error.message;
    // NotAllowedError: cancelled, timed out, or no matching key; InvalidStateError: a key
    // registered already (excludeCredentials).
    if (error && error.name === "InvalidStateError") return element.dataset.messageDuplicate;
    if (error && error.name === "NotAllowedError") return element.dataset.messageCancelled;
    return element.dataset.messageFailed;
  }

  function supported() {
    return Boolean(window.PublicKeyCredential && navigator.credentials);
  }

  function setUpAuthenticate(element) {
    const button = element.querySelector("[data-webauthn-start]");
    if (!supported()) {
      say(element, element.dataset.messageUnsupported);
      if (button) button.disabled = true;
      return;
    }
    button.addEventListener("click", async () => {
      button.disabled = true;
      say(element, element.dataset.messageWaiting);
      try {
        const options = await post(element, element.dataset.optionsUrl);
        const credential = await navigator.credentials.get({ publicKey: requestOptions(options) });
        const result = await post(element, element.dataset.verifyUrl, {
          credential: credentialJSON(credential),
          next: element.dataset.next,
        });
        window.location.assign(result.redirect);
      } catch (error) {
        say(element, explain(element, error));
        button.disabled = false;
      }
    });
  }

  function setUpRegister(form) {
    const button = form.querySelector("button[type=submit]");
    if (!supported()) {
      say(form, form.dataset.messageUnsupported);
      if (button) button.disabled = true;
      return;
    }
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const name = form.querySelector("input[name=name]").value.trim();
      if (!name) {
        say(form, form.dataset.messageName);
        return;
      }
      button.disabled = true;
      say(form, form.dataset.messageWaiting);
      try {
        const options = await post(form, form.dataset.optionsUrl);
        const credential = await navigator.credentials.create({
          publicKey: creationOptions(options),
        });
        const result = await post(form, form.dataset.addUrl, {
          name: name,
          credential: credentialJSON(credential),
        });
        window.location.assign(result.redirect);
      } catch (error) {
        say(form, explain(form, error));
        button.disabled = false;
      }
    });
  }

  function start() {
    document.querySelectorAll("[data-webauthn=authenticate]").forEach(setUpAuthenticate);
    document.querySelectorAll("form[data-webauthn=register]").forEach(setUpRegister);
    document.querySelectorAll("[data-webauthn]").forEach((element) => {
      element.dataset.webauthnReady = "true";
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
