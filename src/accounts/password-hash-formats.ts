/** Password hash formats we verify: our own argon2id, and those of the back ends people import users from. */
export type PasswordHashFormat =
  | 'argon2' // $argon2id$ / $argon2i$, any parameters (ours, and argon2-cffi, passlib; Django's behind 'argon2')
  | 'bcrypt' // $2a$ $2b$ $2y$, cost 4 to 16 (passlib, Flask-Bcrypt, bcrypt)
  | 'passlib-pbkdf2' // $pbkdf2-sha256$ / $pbkdf2-sha512$ (passlib)
  | 'werkzeug-pbkdf2' // pbkdf2:sha256:N$salt$hash (Werkzeug generate_password_hash)
  | 'werkzeug-scrypt' // scrypt:N:r:p$salt$hash (Werkzeug ≥ 2.3)
  | 'django-pbkdf2'; // pbkdf2_sha256$N$salt$hash (Django)

export type Pbkdf2Digest = 'sha1' | 'sha256' | 'sha512';

/** A stored hash read into what its verification needs. */
export type ParsedPasswordHash =
  | { format: 'argon2'; variant: 'argon2id' | 'argon2i'; phc: string }
  | { format: 'bcrypt'; hash: string }
  | { format: 'passlib-pbkdf2' | 'werkzeug-pbkdf2' | 'django-pbkdf2'; digest: Pbkdf2Digest; iterations: number; salt: Buffer; expected: Buffer }
  | { format: 'werkzeug-scrypt'; n: number; r: number; p: number; salt: Buffer; expected: Buffer };

/**
 * The most one sign-in may spend on a hash. Verifying costs what the hash says, so an imported hash
 * beyond these (bcrypt cost 20 is minutes) would let anyone who types its email tie up a hashing
 * thread; each allows a few seconds here, far above the defaults of the stacks we import from.
 */
const MAX_BCRYPT_COST = 16;
const MAX_PBKDF2_ITERATIONS = 5_000_000;
const MAX_SCRYPT_WORK_BYTES = 256 * 1024 * 1024; // 128 · N · r · p: the memory of one lane, times the p lanes run one after another
const MAX_ARGON2 = { memoryKiB: 4 * 1024 * 1024, timeCost: 100, parallelism: 64 }; // as ARGON2_* settings allow

const DIGEST_BYTES: Record<Pbkdf2Digest, number> = { sha1: 20, sha256: 32, sha512: 64 };
const WERKZEUG_SCRYPT_BYTES = 64; // hashlib.scrypt's default dklen

type Parser = (match: RegExpExecArray) => ParsedPasswordHash | undefined;

const parsers: [RegExp, Parser][] = [
  [
    // node-argon2 writes m,p,t; argon2-cffi and passlib m,t,p; Django puts 'argon2' before argon2-cffi's string
    /^(?:argon2)?(\$(argon2id|argon2i)\$v=(?:16|19)\$([mpt]=\d{1,10},[mpt]=\d{1,10},[mpt]=\d{1,10})\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+)$/,
    ([, phc, variant, list]) => {
      const { m, t, p } = Object.fromEntries(list!.split(',').map((pair) => pair.split('=')).map(([key, value]) => [key, Number(value)]));
      const affordable = within(m, 8, MAX_ARGON2.memoryKiB) && within(t, 1, MAX_ARGON2.timeCost) && within(p, 1, MAX_ARGON2.parallelism);
      return affordable ? { format: 'argon2', variant: variant as 'argon2id' | 'argon2i', phc: phc! } : undefined;
    },
  ],
  [/^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$/, ([hash, cost]) => (within(Number(cost), 4, MAX_BCRYPT_COST) ? { format: 'bcrypt', hash: hash! } : undefined)],
  [
    // passlib's "adapted base64": '.' for '+', no padding
    /^\$pbkdf2-(sha256|sha512)\$(\d{1,10})\$([./A-Za-z0-9]+)\$([./A-Za-z0-9]+)$/,
    ([, digest, iterations, salt, expected]) =>
      pbkdf2('passlib-pbkdf2', digest, iterations, Buffer.from(salt!.replaceAll('.', '+'), 'base64'), Buffer.from(expected!.replaceAll('.', '+'), 'base64')),
  ],
  [
    /^pbkdf2:(sha1|sha256|sha512):(\d{1,10})\$([^$]+)\$([0-9a-f]+)$/,
    ([, digest, iterations, salt, expected]) => pbkdf2('werkzeug-pbkdf2', digest, iterations, Buffer.from(salt!, 'utf8'), Buffer.from(expected!, 'hex')),
  ],
  [
    /^scrypt:(\d{1,10}):(\d{1,4}):(\d{1,4})\$([^$]+)\$([0-9a-f]+)$/,
    ([, n, r, p, salt, expected]) => scryptHash(Number(n), Number(r), Number(p), Buffer.from(salt!, 'utf8'), Buffer.from(expected!, 'hex')),
  ],
  [
    /^pbkdf2_(sha1|sha256)\$(\d{1,10})\$([^$]+)\$([A-Za-z0-9+/]+={0,2})$/,
    ([, digest, iterations, salt, expected]) => pbkdf2('django-pbkdf2', digest, iterations, Buffer.from(salt!, 'utf8'), Buffer.from(expected!, 'base64')),
  ],
];

function within(value: number | undefined, min: number, max: number): value is number {
  return value !== undefined && Number.isSafeInteger(value) && value >= min && value <= max;
}

function pbkdf2(
  format: 'passlib-pbkdf2' | 'werkzeug-pbkdf2' | 'django-pbkdf2',
  digest: string | undefined,
  iterations: string | undefined,
  salt: Buffer,
  expected: Buffer,
): ParsedPasswordHash | undefined {
  const name = digest as Pbkdf2Digest;
  if (!within(Number(iterations), 1, MAX_PBKDF2_ITERATIONS) || expected.length !== DIGEST_BYTES[name] || salt.length === 0) return undefined;
  return { format, digest: name, iterations: Number(iterations), salt, expected };
}

function scryptHash(n: number, r: number, p: number, salt: Buffer, expected: Buffer): ParsedPasswordHash | undefined {
  const affordable = within(n, 2, MAX_SCRYPT_WORK_BYTES) && within(r, 1, 1024) && within(p, 1, 1024) && 128 * n * r * p <= MAX_SCRYPT_WORK_BYTES;
  const powerOfTwo = affordable && (n & (n - 1)) === 0;
  if (!powerOfTwo || expected.length !== WERKZEUG_SCRYPT_BYTES) return undefined;
  return { format: 'werkzeug-scrypt', n, r, p, salt, expected };
}

/** The parts of a stored or imported hash, or undefined when it is in no format we verify, or costs too much. */
export function parsePasswordHash(hash: string): ParsedPasswordHash | undefined {
  for (const [pattern, parse] of parsers) {
    const match = pattern.exec(hash);
    if (match) return parse(match);
  }
  return undefined;
}

/** The format of a stored or imported hash, or undefined when it is none we can verify. */
export function passwordHashFormat(hash: string): PasswordHashFormat | undefined {
  return parsePasswordHash(hash)?.format;
}
