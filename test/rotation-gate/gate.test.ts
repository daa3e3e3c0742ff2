/**
 * The gate's step logic on a simulated clock (its AWS and MySQL calls are exercised for real in
 * test/dataplane/rotation.test.ts, against moto and a real ProxySQL).
 */
import { GateDependencies, GateError, GateTarget, LOGIN_STREAK, parseTarget, RotationEvent, runStep, SETTLE_MARGIN_SECONDS } from '../../src/rotation-gate/gate';

const TARGET: GateTarget = { name: 'App/Proxy', host: 'proxy.example', port: 3306, refreshSeconds: 20, tls: true };
const PASSWORD = 'never-logged-secret';

/** Dependencies on a simulated clock; `accepts(t)` says whether a login at time t succeeds. */
function simulated(accepts: (t: number) => boolean, opts: { targets?: GateTarget[]; deadline?: number } = {}) {
  let now = 1_000_000;
  const createdAt = now;
  const calls: string[] = [];
  const lines: string[] = [];
  const logins: number[] = [];
  const deps: GateDependencies = {
    forward: async (e) => { calls.push(e.Step); },
    targets: async () => opts.targets ?? [TARGET],
    pending: async () => ({ username: 'app_clone', password: PASSWORD, createdAt }),
    login: async () => {
      logins.push(now - createdAt);
      if (!accepts(now - createdAt)) throw Object.assign(new Error(`Access denied for user 'app_clone' using ${PASSWORD}`), { code: 'ER_ACCESS_DENIED_ERROR' });
    },
    deadline: () => createdAt + (opts.deadline ?? 590_000),
    now: () => now,
    sleep: async (ms) => { now += ms; },
    log: (l) => lines.push(l),
  };
  return { deps, calls, lines, logins, elapsed: () => now - createdAt };
}

const event = (Step: string): RotationEvent => ({ Step, SecretId: 'arn:secret', ClientRequestToken: 'token' });

describe('rotation gate steps', () => {
  test('every step runs with the wrapped function; only testSecret waits for the proxies', async () => {
    const sim = simulated(() => true);
    for (const step of ['createSecret', 'setSecret', 'finishSecret']) await runStep(event(step), sim.deps);
    expect(sim.logins).toEqual([]);
    expect(sim.elapsed()).toBe(0);
    await runStep(event('testSecret'), sim.deps);
    expect(sim.calls).toEqual(['createSecret', 'setSecret', 'finishSecret', 'testSecret']);
    // It waits one refresh interval plus the margin, then needs a run of logins.
    expect(sim.logins[0]).toBe((20 + SETTLE_MARGIN_SECONDS) * 1000);
    expect(sim.logins).toHaveLength(LOGIN_STREAK);
    expect(sim.lines.join('\n')).toMatch(/proxy App\/Proxy \(proxy\.example:3306\) accepts the pending user app_clone, 27\.0 s after it was created \(8 logins\)/);
  });

  test('a failing step of the wrapped function stops the gate before it waits', async () => {
    const sim = simulated(() => true);
    sim.deps.forward = async () => { throw new Error('hosted failed'); };
    await expect(runStep(event('testSecret'), sim.deps)).rejects.toThrow('hosted failed');
    expect(sim.logins).toEqual([]);
  });

  test('no proxy registered: testSecret returns at once', async () => {
    const sim = simulated(() => false, { targets: [] });
    await runStep(event('testSecret'), sim.deps);
    expect(sim.logins).toEqual([]);
    expect(sim.lines.join('\n')).toContain('no proxy is registered');
  });

  test('a refused login restarts the run: the gate returns only after LOGIN_STREAK consecutive accepted logins', async () => {
    // Accepted from 30 s on, except one refusal at the 4th login after that (a task that has not applied yet).
    let n = 0;
    const sim = simulated((t) => t >= 30_000 && ++n !== 4);
    await runStep(event('testSecret'), sim.deps);
    const accepted = sim.logins.filter((t) => t >= 30_000);
    expect(accepted.length).toBe(3 + 1 + LOGIN_STREAK);
  });

  test('a proxy that never accepts fails testSecret before the deadline, naming proxy, user and error code, never the password', async () => {
    const sim = simulated(() => false, { deadline: 60_000 });
    const err = await runStep(event('testSecret'), sim.deps).then(() => undefined, (e) => e);
    expect(err).toBeInstanceOf(GateError);
    expect(String(err)).toMatch(/^GateError: proxy App\/Proxy \(proxy\.example:3306\) did not accept the pending user app_clone within 60 s of its creation \(\d+ logins, last error: ER_ACCESS_DENIED_ERROR\)\. The rotation stops here, before AWSCURRENT moves/);
    expect(String(err)).not.toContain(PASSWORD);
    expect(sim.elapsed()).toBeLessThanOrEqual(60_000);
  });

  test('a refresh interval the gate cannot wait out fails at once, naming credentialsRefreshInterval', async () => {
    const sim = simulated(() => true, { targets: [{ ...TARGET, refreshSeconds: 900 }] });
    await expect(runStep(event('testSecret'), sim.deps)).rejects.toThrow(/its credentialsRefreshInterval \(900 s\) is longer than the rotation gate can wait \(590 s after the pending version was created\); shorten credentialsRefreshInterval/);
    expect(sim.logins).toEqual([]);
  });

  test('every registered proxy is waited for', async () => {
    const sim = simulated((t) => t >= 25_000, { targets: [TARGET, { ...TARGET, name: 'Other', refreshSeconds: 40 }] });
    await runStep(event('testSecret'), sim.deps);
    expect(sim.lines.filter((l) => l.includes('accepts the pending user'))).toHaveLength(2);
    expect(sim.elapsed()).toBeGreaterThanOrEqual((40 + SETTLE_MARGIN_SECONDS) * 1000);
  });
});

describe('proxy registrations', () => {
  test('a registration is parsed, and a broken one is refused with its name', () => {
    expect(parseTarget('/p/a', '{"name":"S/P","host":"h","port":3306,"refreshSeconds":20,"tls":false}'))
      .toEqual({ name: 'S/P', host: 'h', port: 3306, refreshSeconds: 20, tls: false });
    expect(() => parseTarget('/p/a', 'nope')).toThrow('proxy registration /p/a is not JSON');
    expect(() => parseTarget('/p/a', '{"host":"h","port":0,"refreshSeconds":20}')).toThrow('proxy registration /p/a needs host, port and refreshSeconds');
  });
});
