import path from 'node:path';
import { describe, expect, it } from 'vitest';

import { createMessages, type SecurityChange, type SecurityNotice } from '../../src/email/messages.ts';
import { loadCatalogues } from '../../src/views/i18n.ts';
import { viewsDir } from '../../src/paths.ts';

const catalogues = loadCatalogues(path.join(viewsDir, 'locales'));
const messages = createMessages({ viewsDir, catalogues, brand: { productName: 'Acme <ID>' } });
const to = (...languages: (string | null | undefined)[]) => ({ email: 'kim@example.com', languages });

const everyChange: SecurityChange[] = [
  { kind: 'password-changed' },
  { kind: 'password-reset', removed: { passkeys: ['Old phone'], identities: ['google'] } },
  { kind: 'password-reset', removed: { passkeys: [], identities: [] } },
  { kind: 'password-reset-requested' },
  { kind: 'totp-enabled' },
  { kind: 'totp-removed' },
  { kind: 'recovery-codes-regenerated' },
  { kind: 'second-factors-reset' },
  { kind: 'passkey-added', name: 'Laptop' },
  { kind: 'passkey-removed', name: 'Laptop' },
  { kind: 'identity-linked', provider: 'google' },
  { kind: 'identity-unlinked', provider: 'google' },
  { kind: 'email-change-requested', email: 'new@example.com' },
  { kind: 'email-changed', email: 'new@example.com' },
  { kind: 'account-disabled' },
];
const notice = (change: SecurityChange, byAdministrator = false): SecurityNotice => ({
  change,
  at: new Date('2026-11-30T19:18:52Z'),
  from: byAdministrator ? undefined : { ip: '203.0.113.7', browser: 'Firefox', system: 'Linux' },
  byAdministrator,
  secureLink: 'https://idp.test/account/forgot-password',
  accountLink: 'https://idp.test/account',
});

describe('mail messages', () => {
  it('are written in the first language we speak: the account’s, else the request’s, else English', () => {
    expect(messages.resetPassword(to('de-CH', 'en'), 'https://idp.test/r').subject).toBe('Setzen Sie Ihr Passwort zurück');
    expect(messages.resetPassword(to(null, 'de'), 'https://idp.test/r').subject).toBe('Setzen Sie Ihr Passwort zurück');
    expect(messages.resetPassword(to('en-GB', 'de'), 'https://idp.test/r').subject).toBe('Reset your password');
    expect(messages.resetPassword(to('fr', undefined), 'https://idp.test/r').subject).toBe('Reset your password');
    expect(messages.resetPassword(to(), 'https://idp.test/r').subject).toBe('Reset your password');
  });

  it('say so in the HTML part’s language and keep the plain-text part’s paragraphs', () => {
    const mail = messages.verifyEmail(to('de'), 'https://idp.test/v?token=a&b=c');
    expect(mail.html).toContain('<html lang="de">');
    expect(mail.html).toContain('href="https://idp.test/v?token=a&amp;b=c"');
    expect(mail.text).toBe(
      'Bestätigen Sie Ihre E-Mail-Adresse\n\n' +
        'Öffnen Sie diesen Link, um zu bestätigen, dass diese Adresse Ihnen gehört. Er funktioniert einmal, 24 Stunden lang.\n\n' +
        'https://idp.test/v?token=a&b=c\n\n' +
        'Wenn Sie kein Konto erstellt haben, ignorieren Sie diese Nachricht.\n\n' +
        '-- \nSie erhalten diese Nachricht wegen einer Aktivität bei Acme <ID>.\n',
    );
  });

  it('escape every value in the HTML part, in both languages', () => {
    for (const locale of ['en', 'de']) {
      const mail = messages.securityNotice(to(locale), notice({ kind: 'email-change-requested', email: '<b>@example.com' }));
      expect(mail.html).toContain('<strong>&lt;b&gt;@example.com</strong>');
      expect(mail.html).toContain('Acme &lt;ID&gt;');
      expect(mail.html).not.toContain('<b>');
      expect(mail.text).toContain('<b>@example.com');
    }
  });

  it('leave no key unresolved in any message', () => {
    for (const locale of ['en', 'de']) {
      const all = [
        messages.verifyEmail(to(locale), 'https://l'),
        messages.resetPassword(to(locale), 'https://l'),
        messages.securityNotice(to(locale), notice({ kind: 'identity-linked', provider: 'google' })),
        messages.invitation(to(locale), 'https://l'),
        messages.confirmEmailChange(to(locale), 'https://l'),
        messages.registrationAttempt(to(locale), 'https://l'),
        ...everyChange.flatMap((change) => [messages.securityNotice(to(locale), notice(change)), messages.securityNotice(to(locale), notice(change, true))]),
      ];
      for (const mail of all) {
        expect(`${mail.subject}\n${mail.text}\n${mail.html}`, mail.subject).not.toMatch(/email\.\w+|\{\w+\}/);
      }
      expect(all[2]!.subject).toMatch(/^Google /);
    }
  });

  it('show their button in the brand colour, moved until its text reads on it', () => {
    const branded = createMessages({ viewsDir, catalogues, brand: { primaryColor: '#0f6e5c' } });
    const withButton = [
      branded.verifyEmail(to('en'), 'https://idp.test/v'),
      branded.resetPassword(to('en'), 'https://idp.test/r'),
      branded.invitation(to('en'), 'https://idp.test/i'),
      branded.confirmEmailChange(to('en'), 'https://idp.test/c'),
      branded.securityNotice(to('en'), notice({ kind: 'totp-enabled' })),
    ];
    for (const mail of withButton) expect(mail.html, mail.subject).toContain('background: #0f6e5c; color: #ffffff;');
    const pale = createMessages({ viewsDir, catalogues, brand: { primaryColor: '#ffe600' } }).securityNotice(to('en'), notice({ kind: 'totp-enabled' }));
    expect(pale.html).toContain('color: #000000;');
  });

  it('carry the logo and the footer links in HTML, and name the product and list the links in plain text', () => {
    const links = { privacy: 'https://acme.test/privacy', terms: 'https://acme.test/terms', help: undefined };
    const branded = createMessages({ viewsDir, catalogues, issuer: 'https://idp.test', brand: { productName: 'Acme', logoUrl: '/static/logo.svg', links } });
    for (const mail of [branded.verifyEmail(to('en'), 'https://idp.test/v'), branded.securityNotice(to('en'), notice({ kind: 'totp-enabled' }))]) {
      expect(mail.html).toContain('<img src="https://idp.test/static/logo.svg" alt="Acme"');
      expect(mail.html).toMatch(/<a href="https:\/\/acme.test\/privacy" style="color: #[0-9a-f]{6};">Privacy<\/a> · <a href="https:\/\/acme.test\/terms"[^>]*>Terms<\/a>/);
      expect(mail.html).not.toContain('>Help<');
      expect(mail.text).toMatch(/\n-- \nYou receive this message because of activity on Acme\.\nPrivacy: https:\/\/acme.test\/privacy\nTerms: https:\/\/acme.test\/terms\n$/);
    }
    const german = branded.resetPassword(to('de'), 'https://idp.test/r');
    expect(german.text).toContain('Datenschutz: https://acme.test/privacy\nNutzungsbedingungen: https://acme.test/terms\n');
    // Without a logo, the name stands at the top.
    expect(messages.verifyEmail(to('en'), 'https://idp.test/v').html).not.toContain('<img');
  });

  it('tell in a security notice what changed, when in UTC, from which device and address, and how to secure the account', () => {
    const mail = messages.securityNotice(to('en'), notice({ kind: 'passkey-added', name: 'Laptop' }));
    expect(mail.subject).toBe('A passkey was added to your account');
    expect(mail.text).toContain('The passkey Laptop was added to your account');
    expect(mail.text).toContain('When: 2026-11-30 19:18 UTC');
    expect(mail.text).toContain('From: Firefox on Linux at IP address 203.0.113.7');
    expect(mail.text).toContain('https://idp.test/account/forgot-password');
    expect(mail.html).toContain('href="https://idp.test/account"');

    const byAdmin = messages.securityNotice(to('de'), notice({ kind: 'email-changed', email: 'neu@example.com' }, true));
    expect(byAdmin.subject).toBe('Ihre E-Mail-Adresse wurde geändert');
    expect(byAdmin.text).toContain('Administrator');
    expect(byAdmin.text).not.toContain('203.0.113.7');

    const reset = messages.securityNotice(to('en'), notice({ kind: 'password-reset', removed: { passkeys: ['Old phone'], identities: ['google'] } }));
    expect(reset.text).toContain('Removed with the reset: Old phone, Google.');
  });
});
