export * from './brand.ts';
export * from './dates.ts';
export * from './i18n.ts';
export * from './language-choice.ts';
export * from './views.ts';
export * from './webauthn-browser-script.ts';
