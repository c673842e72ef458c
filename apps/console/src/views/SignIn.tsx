import type { Whoami } from '@warren/api/common.contract';
import { useState } from 'preact/hooks';
import { api, ApiError, errorText } from '../api';
import { setSession } from '../session';

/** Checks `token` against the controller and signs in with it; throws with a message a person can act on. */
export async function signIn(token: string): Promise<void> {
  try {
    const who = await api<Whoami>('GET', '/v1/whoami', undefined, token);
    setSession({ token, who });
  } catch (err) {
    if (err instanceof ApiError && err.status === 401)
      throw new Error('This token is not valid (unknown or revoked).', { cause: err });
    throw err;
  }
}

/** The sign-in form: an API token, checked with `GET /v1/whoami`. */
export function SignIn() {
  const [token, setToken] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      await signIn(token.trim());
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="signin">
      <h1>Warren</h1>
      <form onSubmit={submit} aria-label="Sign in">
        <label for="token">API token</label>
        <input
          id="token"
          type="password"
          autoComplete="off"
          autoFocus
          required
          placeholder="wrn_…"
          value={token}
          onInput={(e) => setToken((e.target as HTMLInputElement).value)}
        />
        <button type="submit" disabled={busy || !token.trim()}>
          Sign in
        </button>
        {error && (
          <p role="alert" class="error">
            {error}
          </p>
        )}
        <p class="hint">
          The quick start wrote an admin token to <code>~/.warren/token</code>. The token stays in this tab only.
        </p>
      </form>
    </main>
  );
}
