import { describe, expect, it } from 'vitest';

import { createPasswordHasher, passwordHashFormat } from '../../src/accounts/index.ts';
import { OWASP_ARGON2_MINIMUM } from '../../src/config.ts';
import { legacyHashes } from '../support/legacy-hashes.ts';

const hasher = createPasswordHasher(OWASP_ARGON2_MINIMUM);
const named = legacyHashes.map((fixture) => [`${fixture.library}: ${fixture.hash.slice(0, 24)}…`, fixture] as const);

describe('password hashes imported from other stacks', () => {
  it('covers every format, and bcrypt in each of its prefixes', () => {
    expect(new Set(legacyHashes.map((fixture) => fixture.format))).toEqual(
      new Set(['argon2', 'bcrypt', 'passlib-pbkdf2', 'werkzeug-pbkdf2', 'werkzeug-scrypt', 'django-pbkdf2']),
    );
    expect(new Set(legacyHashes.filter((fixture) => fixture.format === 'bcrypt').map((fixture) => fixture.hash.slice(0, 4)))).toEqual(
      new Set(['$2a$', '$2b$', '$2y$']),
    );
  });

  it.each(named)('recognises the format of %s', (_, fixture) => {
    expect(passwordHashFormat(fixture.hash)).toBe(fixture.format);
  });

  it.each(named)('accepts the password of %s, and asks for it to be stored again as our argon2id', async (_, fixture) => {
    expect(await hasher.verify(fixture.hash, fixture.password)).toEqual({ valid: true, needsRehash: true });
  });

  it.each(named)('refuses another password for %s', async (_, fixture) => {
    expect(await hasher.verify(fixture.hash, `${fixture.password}!`)).toEqual({ valid: false, needsRehash: false });
    expect(await hasher.verify(fixture.hash, fixture.password.toUpperCase())).toEqual({ valid: false, needsRehash: false });
  });

  it('does not ask to store again a hash of ours, made with the parameters in force', async () => {
    const ours = await hasher.hash('correct horse battery staple');
    expect(passwordHashFormat(ours)).toBe('argon2');
    expect(await hasher.verify(ours, 'correct horse battery staple')).toEqual({ valid: true, needsRehash: false });
  });
});

const bcrypt = legacyHashes.find((fixture) => fixture.hash.startsWith('$2b$04$'))!.hash;
const werkzeug = legacyHashes.find((fixture) => fixture.hash.startsWith('pbkdf2:sha256:1000$'))!.hash;
const scrypt = legacyHashes.find((fixture) => fixture.hash.startsWith('scrypt:1024:8:1$'))!.hash;
const django = legacyHashes.find((fixture) => fixture.hash.startsWith('pbkdf2_sha256$1000$'))!.hash;
const passlib = legacyHashes.find((fixture) => fixture.hash.startsWith('$pbkdf2-sha256$1000$'))!.hash;

const unreadable: [string, string][] = [
  ['empty', ''],
  ['plain text', 'correct horse battery staple'],
  ['a truncated bcrypt hash', bcrypt.slice(0, -1)],
  ['a bcrypt hash with a line break after it', `${bcrypt}\n`],
  ['bcrypt $2x$ (the buggy variant of crypt_blowfish)', bcrypt.replace('$2b$', '$2x$')],
  ['bcrypt cost 3', bcrypt.replace('$04$', '$03$')],
  ['bcrypt cost 31, hours per check', bcrypt.replace('$04$', '$31$')],
  ['Werkzeug pbkdf2 with no iteration count', werkzeug.replace(':1000$', '$')],
  ['Werkzeug pbkdf2 with 0 iterations', werkzeug.replace(':1000$', ':0$')],
  ['Werkzeug pbkdf2 with a billion iterations', werkzeug.replace(':1000$', ':1000000000$')],
  ['Werkzeug pbkdf2 with md5', werkzeug.replace('sha256', 'md5')],
  ['Werkzeug pbkdf2 with a short hash', werkzeug.slice(0, -2)],
  ['Werkzeug pbkdf2 with an upper-case hash', werkzeug.toUpperCase()],
  ['Werkzeug scrypt with N not a power of two', scrypt.replace('scrypt:1024:', 'scrypt:1000:')],
  ['Werkzeug scrypt with 16 GiB of memory', scrypt.replace('scrypt:1024:8:', 'scrypt:16777216:8:')],
  ['Werkzeug scrypt with N beyond 32 bits', scrypt.replace('scrypt:1024:', 'scrypt:4294967296:')],
  ['Werkzeug scrypt with 64 lanes of 32 MiB, one after another', scrypt.replace('scrypt:1024:8:1', 'scrypt:32768:8:64')],
  ['Werkzeug scrypt with no salt', scrypt.replace(/\$[^$]+\$/, '$$')],
  ['Django pbkdf2 with a hash that is not base64', django.replace(/\$[^$]+$/, '$not-base64!')],
  ['Django pbkdf2 with a short hash', django.replace(/\$[^$]+$/, '$AAAA')],
  ['passlib pbkdf2 with sha1 (not offered)', passlib.replace('pbkdf2-sha256', 'pbkdf2-sha1')],
  ['argon2d', '$argon2d$v=19$m=1024,t=1,p=1$c29tZXNhbHQ$aGFzaGhhc2hoYXNoaGFzaA'],
  ['argon2id with 64 GiB of memory', '$argon2id$v=19$m=67108864,t=1,p=1$c29tZXNhbHQ$aGFzaGhhc2hoYXNoaGFzaA'],
];

describe('hashes in no format we verify', () => {
  it.each(unreadable)('%s: is no known format, and refuses every password without throwing', async (_, hash) => {
    expect(passwordHashFormat(hash)).toBeUndefined();
    expect(await hasher.verify(hash, 'correct horse battery staple')).toEqual({ valid: false, needsRehash: false });
  });

  it('refuses, without throwing, a hash that reads well but that its library rejects', async () => {
    // argon2 needs at least 8 KiB of memory per lane: 8 KiB for 64 lanes is no hash it can check.
    const hash = '$argon2id$v=19$m=8,t=1,p=64$c29tZXNhbHQ$aGFzaGhhc2hoYXNoaGFzaA';
    expect(passwordHashFormat(hash)).toBe('argon2');
    expect(await hasher.verify(hash, 'correct horse battery staple')).toEqual({ valid: false, needsRehash: false });
  });
});
