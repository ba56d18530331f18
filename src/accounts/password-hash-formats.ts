/** Password hash formats we verify: our own argon2id, and those of the back ends people import users from. */
export type PasswordHashFormat =
  | 'argon2' // $argon2id$ / $argon2i$, any parameters (ours, and argon2-cffi, passlib)
  | 'bcrypt' // $2a$ $2b$ $2y$, any cost (passlib, Flask-Bcrypt, bcrypt)
  | 'passlib-pbkdf2' // $pbkdf2-sha256$ / $pbkdf2-sha512$ (passlib)
  | 'werkzeug-pbkdf2' // pbkdf2:sha256:N$salt$hash (Werkzeug generate_password_hash)
  | 'werkzeug-scrypt' // scrypt:N:r:p$salt$hash (Werkzeug ≥ 3)
  | 'django-pbkdf2'; // pbkdf2_sha256$N$salt$hash (Django)

const patterns: [PasswordHashFormat, RegExp][] = [
  ['argon2', /^\$argon2(id|i)\$v=\d+\$m=\d+(,[a-z]+=[^,$]+)+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/],
  ['bcrypt', /^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/],
  ['passlib-pbkdf2', /^\$pbkdf2-sha(256|512)\$\d+\$[./A-Za-z0-9]+\$[./A-Za-z0-9]+$/],
  ['werkzeug-pbkdf2', /^pbkdf2:sha(256|512)(:\d+)?\$[^$]+\$[0-9a-f]+$/],
  ['werkzeug-scrypt', /^scrypt:\d+:\d+:\d+\$[^$]+\$[0-9a-f]+$/],
  ['django-pbkdf2', /^pbkdf2_sha(256|1)\$\d+\$[^$]+\$[A-Za-z0-9+/=]+$/],
];

/** The format of a stored or imported hash, or undefined when it is none we can verify. */
export function passwordHashFormat(hash: string): PasswordHashFormat | undefined {
  return patterns.find(([, pattern]) => pattern.test(hash))?.[0];
}
