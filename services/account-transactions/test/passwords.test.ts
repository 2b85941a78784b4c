import { describe, expect, it } from 'vitest';
import { hashPassword, verifyPassword } from '../src/passwords.ts';

// A low cost keeps these fast; the format carries the cost, so verification follows it.
const cheap = { log2N: 10, r: 8, p: 1 };

describe('password hashes', () => {
  it('verifies the password it was made from, and no other', async () => {
    const stored = await hashPassword('s3cret password', cheap);
    expect(stored).toMatch(/^scrypt\$10\$8\$1\$[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}$/);
    expect(await verifyPassword('s3cret password', stored)).toBe(true);
    expect(await verifyPassword('s3cret passwor', stored)).toBe(false);
    expect(await verifyPassword('S3cret password', stored)).toBe(false);
    expect(await verifyPassword('', stored)).toBe(false);
  });

  it('salts every hash: one password, two different hashes, both valid', async () => {
    const [a, b] = await Promise.all([hashPassword('same', cheap), hashPassword('same', cheap)]);
    expect(a).not.toBe(b);
    expect(await verifyPassword('same', a)).toBe(true);
    expect(await verifyPassword('same', b)).toBe(true);
  });

  it('uses the default cost unless told otherwise', async () => {
    expect(await hashPassword('x')).toMatch(/^scrypt\$15\$8\$1\$/);
  });

  it('never matches a stored value that is not one of its hashes', async () => {
    for (const stored of ['', 'password', 'scrypt$99$8$1$AAAA$AAAA', 'bcrypt$2b$10$abc', 'scrypt$10$8$1$$']) {
      expect(await verifyPassword('password', stored)).toBe(false);
    }
  });

  it('treats a password and its NFC normal form as the same password', async () => {
    const stored = await hashPassword('caf\u00e9', cheap);
    expect(await verifyPassword('cafe\u0301', stored)).toBe(true);
  });
});
