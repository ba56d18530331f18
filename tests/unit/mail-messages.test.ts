import path from 'node:path';
import { describe, expect, it } from 'vitest';

import { createMessages } from '../../src/email/messages.ts';
import { loadCatalogues } from '../../src/http/i18n.ts';
import { viewsDir } from '../../src/paths.ts';

const catalogues = loadCatalogues(path.join(viewsDir, 'locales'));
const messages = createMessages({ viewsDir, catalogues, productName: 'Acme <ID>' });
const to = (...languages: (string | null | undefined)[]) => ({ email: 'kim@example.com', languages });

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
        'Wenn Sie kein Konto erstellt haben, ignorieren Sie diese Nachricht.\n',
    );
  });

  it('escape every value in the HTML part, in both languages', () => {
    for (const locale of ['en', 'de']) {
      const mail = messages.emailChangeRequested(to(locale), '<b>@example.com', 'https://idp.test/f');
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
        messages.passwordChanged(to(locale), 'https://l', 'reset'),
        messages.providerLinked(to(locale), 'google', 'https://l'),
        messages.invitation(to(locale), 'https://l'),
        messages.confirmEmailChange(to(locale), 'https://l'),
        messages.emailChangeRequested(to(locale), 'new@example.com', 'https://l'),
        messages.registrationAttempt(to(locale), 'https://l'),
        messages.passwordChanged(to(locale), 'https://l', 'account-page'),
      ];
      for (const mail of all) {
        expect(`${mail.subject}\n${mail.text}\n${mail.html}`, mail.subject).not.toMatch(/email\.\w+|\{\w+\}/);
      }
      expect(all[3]!.subject).toMatch(/^Google /);
    }
  });
});
