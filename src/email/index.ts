export { createMailer, type Mailer, type OutgoingMail } from './mailer.ts';
export { DevOutbox } from './outbox.ts';
export { createMessages, type Messages, type SecurityChange, type SecurityNotice } from './messages.ts';
