import path from 'node:path';
import { Eta } from 'eta';

import type { OutgoingMail } from './mailer.ts';

const providerName = (provider: string) => (provider === 'google' ? 'Google' : provider);

/** Each message has an HTML part (escaped) and a plain-text part, from views/email/<name>.{html,text}.eta. */
export function createMessages(viewsDir: string, productName = 'your account') {
  const html = new Eta({ views: path.join(viewsDir, 'email'), autoEscape: true, cache: true });
  const text = new Eta({ views: path.join(viewsDir, 'email'), autoEscape: false, cache: true });
  const compose = (name: string, to: string, subject: string, data: Record<string, unknown>): OutgoingMail => ({
    to,
    subject,
    html: html.render(`${name}.html.eta`, { subject, productName, ...data }),
    text: text.render(`${name}.text.eta`, { subject, productName, ...data }),
  });

  return {
    verifyEmail: (to: string, link: string) => compose('verify-email', to, 'Confirm your email address', { link }),
    resetPassword: (to: string, link: string) => compose('reset-password', to, 'Reset your password', { link }),
    passwordChanged: (to: string, resetLink: string) => compose('password-changed', to, 'Your password was changed', { resetLink }),
    providerLinked: (to: string, provider: string, accountLink: string) =>
      compose('provider-linked', to, `${providerName(provider)} was linked to your account`, { provider: providerName(provider), accountLink }),
    invitation: (to: string, link: string) => compose('invitation', to, 'You are invited: choose your password', { link }),
    confirmEmailChange: (to: string, link: string) => compose('confirm-email-change', to, 'Confirm your new email address', { link }),
    emailChangeRequested: (to: string, newEmail: string, resetLink: string) =>
      compose('email-change-requested', to, 'Your email address is being changed', { newEmail, resetLink }),
    registrationAttempt: (to: string, resetLink: string) =>
      compose('registration-attempt', to, 'Someone tried to create an account with your email', { resetLink }),
  };
}

export type Messages = ReturnType<typeof createMessages>;
