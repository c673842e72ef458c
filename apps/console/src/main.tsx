import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { follow, navigate, useLocation } from './router';
import { may, onSession, session, setSession, storedToken } from './session';
import './style.css';
import { Audit } from './views/Audit';
import { History } from './views/History';
import { Hosts } from './views/Hosts';
import { Run } from './views/Run';
import { signIn, SignIn } from './views/SignIn';
import { Task } from './views/Task';

/** The view for a path; roles only hide what the server would refuse anyway. */
function View({ path }: { path: string }) {
  const task = /^\/tasks\/([^/]+)$/.exec(path);
  if (task) return <Task id={decodeURIComponent(task[1])} />;
  if (path === '/run' && may('operator')) return <Run />;
  if (path === '/tasks') return <History />;
  if (path === '/audit' && may('admin')) return <Audit />;
  return <Hosts />;
}

function Nav({ path }: { path: string }) {
  const who = session()!.who;
  const link = (href: string, text: string) => (
    <a href={href} onClick={follow} aria-current={path === href ? 'page' : undefined}>
      {text}
    </a>
  );
  return (
    <header class="top">
      <span class="brand">Warren</span>
      <nav aria-label="Views">
        {link('/hosts', 'Hosts')}
        {may('operator') && link('/run', 'Run')}
        {link('/tasks', 'Tasks')}
        {may('admin') && link('/audit', 'Audit')}
      </nav>
      <span class="who">
        {who.name} <span class="role">({who.role})</span>
      </span>
      <button type="button" onClick={() => setSession(null)}>
        Sign out
      </button>
    </header>
  );
}

function App() {
  const [, bump] = useState(0);
  const [restoring, setRestoring] = useState(() => storedToken() !== null);
  const { path } = useLocation();
  useEffect(() => onSession(() => bump((n) => n + 1)), []);
  useEffect(() => {
    // A reload keeps the tab's token: check it again rather than trust it.
    const token = storedToken();
    if (token)
      signIn(token)
        .catch(() => setSession(null))
        .finally(() => setRestoring(false));
  }, []);
  useEffect(() => {
    if (path === '/' && session()) navigate('/hosts', true);
  }, [path, session()]);
  if (restoring) return <p class="loading">Signing in…</p>;
  if (!session()) return <SignIn />;
  return (
    <>
      <Nav path={path} />
      <View path={path} />
    </>
  );
}

render(<App />, document.getElementById('app')!);
