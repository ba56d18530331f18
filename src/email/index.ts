export { createMailer, type Mailer } from './mailer.ts';
export type { OutgoingMail } from './outgoing-mail.ts';
export { DevOutbox } from './outbox.ts';
export { createMessages, type Messages, type SecurityChange, type SecurityNotice } from './messages.ts';
