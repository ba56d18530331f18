// Passkey buttons (views/partials/passkey-form.eta). With WebAuthn at hand, each form is shown; on
// submit it asks the server for the ceremony's options, lets the browser's authenticator answer,
// and posts the form with that answer. The server's page then tells how it went.
(function () {
  'use strict';
  var webauthn = window.SimpleWebAuthnBrowser;
  if (!webauthn || !webauthn.browserSupportsWebAuthn()) return;

  document.querySelectorAll('.passkey-needs-script').forEach(function (hint) {
    hint.hidden = true;
  });

  document.querySelectorAll('form[data-passkey]').forEach(function (form) {
    var button = form.querySelector('button[type="submit"]');
    var alert = form.querySelector('.passkey-error');
    form.hidden = false;

    function fail(error) {
      var name = error && error.name;
      var code = error && error.code;
      alert.textContent =
        code === 'ERROR_AUTHENTICATOR_PREVIOUSLY_REGISTERED' || name === 'InvalidStateError'
          ? form.dataset.errorExists
          : name === 'NotAllowedError' || name === 'AbortError'
            ? form.dataset.errorCancelled
            : form.dataset.errorFailed;
      alert.hidden = false;
      button.disabled = false;
    }

    form.addEventListener('submit', function (event) {
      event.preventDefault();
      alert.hidden = true;
      button.disabled = true;
      var body = new URLSearchParams({ _csrf: form.elements._csrf.value });
      fetch(form.dataset.options, { method: 'POST', body: body, credentials: 'same-origin', headers: { accept: 'application/json' } })
        .then(function (response) {
          // A sensitive change after too long: the server names the page to confirm it is you, and back.
          if (response.status === 401) {
            return response.json().then(function (refusal) {
              if (refusal && refusal.location) window.location.assign(refusal.location);
              throw new Error('re-authentication required');
            });
          }
          if (!response.ok) throw new Error('options refused: ' + response.status);
          return response.json();
        })
        .then(function (optionsJSON) {
          return form.dataset.passkey === 'register'
            ? webauthn.startRegistration({ optionsJSON: optionsJSON })
            : webauthn.startAuthentication({ optionsJSON: optionsJSON });
        })
        .then(function (answer) {
          form.elements.response.value = JSON.stringify(answer);
          form.submit();
        })
        .catch(fail);
    });
  });
})();
