#!/usr/bin/python3
"""Writes tests/fixtures/legacy-hashes.json: password hashes made by the libraries of the back ends
people import users from, so the tests check our verifiers against the real thing, not against our
own reading of it.

Needs Debian's packages (Debian 12 shown; run with Debian's /usr/bin/python3, not a pyenv one):

    apt-get install -y python3-bcrypt python3-passlib python3-werkzeug python3-django python3-argon2
    /usr/bin/python3 scripts/legacy-hash-fixtures.py [--werkzeug-src DIR]

Debian 12's Werkzeug is 2.2, which has no scrypt (added in 2.3, the default since 3.0), and PyPI is
out of reach here. Debian 13's has it; on Debian 12 point --werkzeug-src at the src/ folder of a
Werkzeug 3 release's source tree (with its pyproject.toml beside src/, for the version): its
werkzeug/security.py makes the scrypt hashes, Debian's Werkzeug the pbkdf2 ones. Without a Werkzeug
that has scrypt, the script stops.

Costs are kept low where the format allows, for the tests' speed, with one realistic default each.
"""

import argparse
import json
import os
import sys

PASSWORDS = [
    'correct horse battery staple',
    'pässwörd ✓ 密码',  # not ASCII: every stack hashes the UTF-8 bytes
    'p@$$:w0rd$',  # the separators of the formats themselves
]


def password(i):
    return PASSWORDS[i % len(PASSWORDS)]


def bcrypt_hashes():
    import bcrypt
    from passlib.hash import bcrypt as passlib_bcrypt

    lib = f'bcrypt {bcrypt.__version__}'
    made = [
        (lib, lambda pw: bcrypt.hashpw(pw.encode(), bcrypt.gensalt(rounds=4)).decode()),
        (lib, lambda pw: bcrypt.hashpw(pw.encode(), bcrypt.gensalt(rounds=5, prefix=b'2a')).decode()),
        (lib, lambda pw: bcrypt.hashpw(pw.encode(), bcrypt.gensalt(rounds=12)).decode()),
        (f'passlib {passlib_version()} bcrypt', lambda pw: passlib_bcrypt.using(ident='2y', rounds=4).hash(pw)),
        (f'passlib {passlib_version()} bcrypt (FastAPI default, cost 12)', lambda pw: passlib_bcrypt.hash(pw)),
    ]
    return [('bcrypt', library, make) for library, make in made]


def passlib_version():
    import passlib

    return passlib.__version__


def passlib_pbkdf2_hashes():
    from passlib.hash import pbkdf2_sha256, pbkdf2_sha512

    lib = f'passlib {passlib_version()}'
    return [
        ('passlib-pbkdf2', f'{lib} pbkdf2_sha256', lambda pw: pbkdf2_sha256.using(rounds=1000).hash(pw)),
        ('passlib-pbkdf2', f'{lib} pbkdf2_sha512', lambda pw: pbkdf2_sha512.using(rounds=1000).hash(pw)),
        ('passlib-pbkdf2', f'{lib} pbkdf2_sha256 (default rounds)', lambda pw: pbkdf2_sha256.hash(pw)),
    ]


def werkzeug_hashes(werkzeug_src):
    import werkzeug
    from werkzeug.security import generate_password_hash

    lib = f'Werkzeug {werkzeug.__version__}'
    made = [
        ('werkzeug-pbkdf2', lib, lambda pw: generate_password_hash(pw, method='pbkdf2:sha256:1000')),
        ('werkzeug-pbkdf2', lib, lambda pw: generate_password_hash(pw, method='pbkdf2:sha512:1000')),
        ('werkzeug-pbkdf2', f'{lib} (the digest before Werkzeug 0.15)', lambda pw: generate_password_hash(pw, method='pbkdf2:sha1:1000')),
        ('werkzeug-pbkdf2', f'{lib} (default)', lambda pw: generate_password_hash(pw)),
    ]
    scrypt_lib, scrypt_hash = (lib, generate_password_hash)
    if werkzeug_src:
        version, scrypt_hash = werkzeug_from_tree(werkzeug_src)
        scrypt_lib = f'Werkzeug {version}'
    try:
        scrypt_hash('probe', method='scrypt:1024:8:1')
    except ValueError:
        sys.exit(f'{scrypt_lib} has no scrypt: use --werkzeug-src with a Werkzeug 3 source tree (see the top of this script)')
    made += [
        ('werkzeug-scrypt', scrypt_lib, lambda pw: scrypt_hash(pw, method='scrypt:1024:8:1')),
        ('werkzeug-scrypt', f'{scrypt_lib} (default)', lambda pw: scrypt_hash(pw)),
    ]
    return made


def werkzeug_from_tree(src):
    """The tree's werkzeug/security.py (it needs only the standard library) and the version in its pyproject.toml."""
    import importlib.util

    spec = importlib.util.spec_from_file_location('werkzeug_tree_security', os.path.join(src, 'werkzeug', 'security.py'))
    security = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(security)
    try:
        with open(os.path.join(src, '..', 'pyproject.toml'), encoding='utf-8') as file:
            version = next(line.split('"')[1] for line in file if line.startswith('version = '))
    except (OSError, StopIteration):
        version = f'(source tree {src})'
    return version, security.generate_password_hash


def django_hashes():
    import django
    from django.conf import settings

    settings.configure(
        PASSWORD_HASHERS=[
            'django.contrib.auth.hashers.PBKDF2PasswordHasher',
            'django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher',
            'django.contrib.auth.hashers.Argon2PasswordHasher',
        ]
    )
    from django.contrib.auth.hashers import Argon2PasswordHasher, PBKDF2PasswordHasher, PBKDF2SHA1PasswordHasher, make_password

    class CheapArgon2PasswordHasher(Argon2PasswordHasher):
        time_cost, memory_cost, parallelism = 1, 1024, 1

    lib = f'Django {django.get_version()}'
    sha256, sha1 = PBKDF2PasswordHasher(), PBKDF2SHA1PasswordHasher()
    return [
        ('django-pbkdf2', lib, lambda pw: sha256.encode(pw, sha256.salt(), iterations=1000)),
        ('django-pbkdf2', lib, lambda pw: sha1.encode(pw, sha1.salt(), iterations=1000)),
        ('django-pbkdf2', f'{lib} (default)', lambda pw: make_password(pw)),
        ('argon2', f'{lib} Argon2PasswordHasher', lambda pw: make_password(pw, hasher=CheapArgon2PasswordHasher())),
    ]


def argon2_hashes():
    import argon2
    from argon2.low_level import Type, hash_secret

    lib = f'argon2-cffi {argon2.__version__}'
    return [
        ('argon2', lib, lambda pw: argon2.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=2).hash(pw)),
        ('argon2', f'{lib} argon2i', lambda pw: hash_secret(pw.encode(), os.urandom(16), time_cost=2, memory_cost=1024, parallelism=1, hash_len=32, type=Type.I).decode()),
        ('argon2', f'{lib} (default)', lambda pw: argon2.PasswordHasher().hash(pw)),
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--werkzeug-src', help='the src/ folder of a Werkzeug >= 2.3 source tree, for scrypt')
    parser.add_argument('--out', default=os.path.join(os.path.dirname(__file__), '..', 'tests', 'fixtures', 'legacy-hashes.json'))
    args = parser.parse_args()
    makers = bcrypt_hashes() + passlib_pbkdf2_hashes() + werkzeug_hashes(args.werkzeug_src) + django_hashes() + argon2_hashes()
    fixtures = []
    for i, (fmt, library, make) in enumerate(makers):
        pw = password(i)
        fixtures.append({'format': fmt, 'library': library, 'password': pw, 'hash': make(pw)})
    with open(args.out, 'w', encoding='utf-8') as out:
        json.dump(fixtures, out, ensure_ascii=False, indent=2)
        out.write('\n')
    print(f'{len(fixtures)} hashes written to {os.path.normpath(args.out)}')


if __name__ == '__main__':
    main()
