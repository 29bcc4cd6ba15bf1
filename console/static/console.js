// Flywheel admin console: plain ES module, no build step. Every read and write goes through the
// public GraphQL API (operations as in clients/typescript/operations/admin.graphql) with the admin
// credential the merchant signs in with (an admin API key, or an admin JWT).
const app = document.getElementById('app');
const config = await (await fetch('/config.json')).json();
let credential = sessionStorage.getItem('flywheel.admin') || '';
let live = null; // the admin's live stream (AbortController)
const liveHandlers = new Set();

const esc = (v) => String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
const money = (m) => (m ? new Intl.NumberFormat('en-GB', { style: 'currency', currency: m.currency }).format(Number(m.amount)) : '—');
const pct = (v) => (v === null || v === undefined ? '—' : `${Number(v).toFixed(1)} %`);
const authHeaders = () => (credential.split('.').length === 3
  ? { authorization: `Bearer ${credential}` } : { 'x-api-key': credential });

class ApiError extends Error {
  constructor(error) { super(error.message); this.code = error.extensions && error.extensions.code; }
}

async function gql(query, variables = {}) {
  const response = await fetch(config.gatewayUrl, {
    method: 'POST', headers: { 'content-type': 'application/json', ...authHeaders() },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (body.errors && body.errors.length) throw new ApiError(body.errors[0]);
  return body.data;
}

function message(el, text, kind = 'error') {
  el.innerHTML = text ? `<div class="msg ${kind}" data-testid="message">${esc(text)}</div>` : '';
}

// ---- sign-in ------------------------------------------------------------------------------------
function signIn(error = '') {
  document.getElementById('who').textContent = '';
  app.innerHTML = `<section><h2>Sign in</h2>
    <form id="signin" class="inline"><label>Admin API key (or admin token)
      <input name="key" type="password" autocomplete="off" size="40" required></label>
      <button>Sign in</button></form><div id="signin-msg"></div></section>`;
  message(document.getElementById('signin-msg'), error);
  document.getElementById('signin').addEventListener('submit', async (e) => {
    e.preventDefault();
    credential = new FormData(e.target).get('key').trim();
    try {
      await gql('query { program { version } }');
      sessionStorage.setItem('flywheel.admin', credential);
      startLive();
      route();
    } catch (err) {
      credential = '';
      signIn(`Sign-in failed: ${err.message}`);
    }
  });
}

function signOut() { credential = ''; sessionStorage.removeItem('flywheel.admin'); if (live) live.abort(); live = null; signIn(); }

// ---- live stream (server-sent events from the console server, driven by RabbitMQ) ---------------
async function startLive() {
  if (live) live.abort();
  const controller = new AbortController();
  live = controller;
  while (live === controller) {
    try {
      const response = await fetch(config.liveUrl, { headers: authHeaders(), signal: controller.signal });
      if (!response.ok) throw new Error(String(response.status));
      document.body.dataset.live = 'connected';
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = block.split('\n').find((l) => l.startsWith('data: '));
          if (data) { const event = JSON.parse(data.slice(6)); liveHandlers.forEach((h) => h(event)); }
        }
      }
    } catch { if (controller.signal.aborted) return; }
    document.body.dataset.live = 'off';
    await new Promise((r) => setTimeout(r, 2000));
  }
}

// ---- program: configuration with the margin check, tiers, rewards ------------------------------
const PROGRAM = `query Program { program { version currency earnRate pointValue { amount currency } expiryMonths pendingDays
  cashbackCeiling effectiveCashback withinBand tiers { name threshold { amount currency } multiplier perks } }
  rewardsCatalog { id name kind pointsCost value { amount currency } percentOff minTier limitPerCustomer limitTotal active } }`;

async function programView() {
  const { program: p, rewardsCatalog } = await gql(PROGRAM);
  const effective = Number(p.effectiveCashback) * 100;
  const ceiling = Number(p.cashbackCeiling) * 100;
  // Above the ceiling is refused (red); inside the ceiling but outside the sustainable 3–5 % band is a
  // warning (amber), not a pass: too little cashback does not move buyers, too much costs the margin.
  const level = effective > ceiling ? 'bad' : p.withinBand ? 'good' : 'warn';
  app.innerHTML = `<section><h2>Program <span class="muted">v${p.version}</span></h2>
    <div class="tiles">
      <div class="tile"><div class="muted">Earn rate</div><div class="value">${esc(p.earnRate)}</div><div class="bench">points per ${esc(p.currency)}</div></div>
      <div class="tile"><div class="muted">Point value</div><div class="value">${money(p.pointValue)}</div></div>
      <div class="tile" data-testid="margin-check"><div class="muted">Effective cashback (margin check)</div>
        <div class="value ${level}" data-level="${level}">${effective.toFixed(2)} %</div>
        <div class="bench">ceiling ${ceiling.toFixed(2)} % · sustainable band 3–5 % ${p.withinBand ? '✓' : '(outside: warning)'}</div></div>
      <div class="tile"><div class="muted">Expiry / pending</div><div class="value">${p.expiryMonths} mo</div><div class="bench">${p.pendingDays} days return window</div></div>
    </div>
    <h3>Change earning</h3>
    <form id="configure" class="inline">
      <label>Earn rate<input name="earnRate" value="${esc(p.earnRate)}" size="6"></label>
      <label>Point value<input name="pointValue" value="${esc(p.pointValue.amount)}" size="6"></label>
      <label>Cashback ceiling<input name="cashbackCeiling" value="${esc(p.cashbackCeiling)}" size="6"></label>
      <button>Save</button></form><div id="configure-msg"></div>
    <h3>What would this change cost?</h3>
    <form id="simulate" class="inline" data-testid="simulate">
      <label>Earn rate<input name="simEarnRate" value="${esc(p.earnRate)}" size="6"></label>
      <label>Point value<input name="simPointValue" value="${esc(p.pointValue.amount)}" size="6"></label>
      <label>Expiry (months)<input name="simExpiryMonths" type="number" min="0" value="${p.expiryMonths}" size="4"></label>
      <label>From<input name="from" type="date" value="${isoDay(Date.now() - 365 * 86400000)}"></label>
      <label>To<input name="to" type="date" value="${isoDay(Date.now())}"></label>
      <button>Simulate</button></form>
    <p class="muted">Replays the shop's real orders, refunds and actions of the period under this change and under today's program. Nothing is saved.</p>
    <div id="simulate-out"></div>
    <h3>Tiers</h3><form id="tiers"><table data-testid="tiers"><tr><th>Name</th><th>Threshold (spend, ${esc(p.currency)})</th><th>Multiplier</th><th>Perks (comma-separated)</th></tr>
      ${[...p.tiers, { name: '', threshold: { amount: '' }, multiplier: '', perks: [] }].map((t) => `<tr>
        <td><input name="name" value="${esc(t.name)}" placeholder="new tier"></td>
        <td><input name="threshold" value="${esc(t.threshold.amount)}" size="8"></td>
        <td><input name="multiplier" value="${esc(t.multiplier)}" size="5"></td>
        <td><input name="perks" value="${esc(t.perks.join(', '))}" size="40"></td></tr>`).join('')}</table>
      <p class="muted">Clear a name to remove that tier. Multipliers count in the margin check.</p>
      <button>Save tiers</button></form><div id="tiers-msg"></div></section>
    <section><h2>Rewards</h2><table data-testid="rewards"><tr><th>Name</th><th>Kind</th><th>Cost</th><th>Value</th><th>Min tier</th><th>Active</th></tr>
      ${rewardsCatalog.map((r) => `<tr><td>${esc(r.name)}</td><td>${r.kind}</td><td>${r.pointsCost}</td>
        <td>${r.value ? money(r.value) : r.percentOff ? `${esc(r.percentOff)} %` : '—'}</td><td>${esc(r.minTier || '')}</td>
        <td><button class="ghost" data-toggle="${esc(r.id)}">${r.active ? 'Deactivate' : 'Activate'}</button></td></tr>`).join('')}</table>
      <p class="muted">A deactivated reward leaves the catalog: the API lists active rewards only.</p>
      <h3>Add a reward</h3>
      <form id="reward" class="inline"><label>Name<input name="name" required></label>
        <label>Kind<select name="kind">${['FIXED_AMOUNT', 'PERCENTAGE', 'FREE_SHIPPING', 'FREE_PRODUCT', 'STORE_CREDIT'].map((k) => `<option>${k}</option>`).join('')}</select></label>
        <label>Points<input name="pointsCost" type="number" min="1" required size="6"></label>
        <label>Value<input name="value" size="6"></label><button>Add</button></form><div id="reward-msg"></div></section>`;
  document.getElementById('configure').addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    try {
      const r = await gql('mutation($input: ProgramInput!) { configureProgram(input: $input) { version effectiveCashback } }',
        { input: { earnRate: f.get('earnRate'), pointValue: f.get('pointValue'), cashbackCeiling: f.get('cashbackCeiling') } });
      await programView();
      message(document.getElementById('configure-msg'), `Saved as version ${r.configureProgram.version}`, 'ok');
    } catch (err) { message(document.getElementById('configure-msg'), `${err.code || 'ERROR'}: ${err.message}`); }
  });
  document.getElementById('simulate').addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    const out = document.getElementById('simulate-out');
    const to = new Date(`${f.get('to')}T00:00:00Z`);
    const vars = { input: { earnRate: f.get('simEarnRate'), pointValue: f.get('simPointValue'), expiryMonths: Number(f.get('simExpiryMonths')) },
      from: new Date(`${f.get('from')}T00:00:00Z`).toISOString(),
      to: new Date(Math.min(to.getTime() + 86400000, Date.now())).toISOString() };
    message(out, 'Replaying the period …', 'ok');
    try {
      out.innerHTML = simulationTable((await gql(SIMULATE, vars)).simulateProgram);
    } catch (err) {
      if (err.code !== 'BAD_USER_INPUT' || !/startProgramSimulation/.test(err.message)) { message(out, `${err.code || 'ERROR'}: ${err.message}`); return; }
      // Too large to answer at once: the same simulation as jobs, polled until done.
      try {
        const { startProgramSimulation: run } = await gql(START_SIMULATION, vars);
        for (;;) {
          const { programSimulation: r } = await gql(POLL_SIMULATION, { id: run.id });
          if (r.done) { out.innerHTML = simulationTable(r.comparison); return; }
          message(out, `Replaying the period as a job: ${r.customersDone} customers so far …`, 'ok');
          await new Promise((resolve) => setTimeout(resolve, 2000));
        }
      } catch (err2) { message(out, `${err2.code || 'ERROR'}: ${err2.message}`); }
    }
  });
  app.querySelectorAll('[data-toggle]').forEach((b) => b.addEventListener('click', async () => {
    const r = rewardsCatalog.find((x) => x.id === b.dataset.toggle);
    try {
      await gql('mutation($input: RewardInput!) { upsertReward(input: $input) { id active } }', { input: {
        id: r.id, name: r.name, kind: r.kind, pointsCost: r.pointsCost, value: r.value ? r.value.amount : r.percentOff,
        minTier: r.minTier, limitPerCustomer: r.limitPerCustomer, limitTotal: r.limitTotal, active: !r.active } });
      await programView();
    } catch (err) { message(document.getElementById('reward-msg'), `${err.code || 'ERROR'}: ${err.message}`); }
  }));
  document.getElementById('tiers').addEventListener('submit', async (e) => {
    e.preventDefault();
    const tiers = [...e.target.querySelectorAll('tr')].slice(1).map((tr) => ({
      name: tr.querySelector('[name=name]').value.trim(), threshold: tr.querySelector('[name=threshold]').value.trim(),
      multiplier: tr.querySelector('[name=multiplier]').value.trim(),
      perks: tr.querySelector('[name=perks]').value.split(',').map((x) => x.trim()).filter(Boolean),
    })).filter((t) => t.name);
    try {
      const r = await gql('mutation($input: ProgramInput!) { configureProgram(input: $input) { version } }', { input: { tiers } });
      await programView();
      message(document.getElementById('tiers-msg'), `Tiers saved as version ${r.configureProgram.version}`, 'ok');
    } catch (err) { message(document.getElementById('tiers-msg'), `${err.code || 'ERROR'}: ${err.message}`); }
  });
  document.getElementById('reward').addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    try {
      await gql('mutation($input: RewardInput!) { upsertReward(input: $input) { id } }', { input: {
        name: f.get('name'), kind: f.get('kind'), pointsCost: Number(f.get('pointsCost')), value: f.get('value') || null } });
      await programView();
    } catch (err) { message(document.getElementById('reward-msg'), `${err.code || 'ERROR'}: ${err.message}`); }
  });
}

// The comparison, as a fragment each query carries (the literal stays one valid document).
const SIMULATE = `query Simulate($input: ProgramInput!, $from: DateTime!, $to: DateTime!) {
  simulateProgram(input: $input, from: $from, to: $to) { ...Comparison } }
fragment Comparison on ProgramComparison { proposed { ...Side } current { ...Side } notes }
fragment Side on ProgramSimulation { orders pointsIssued pointsPending pointsAvailable pointsExpired effectiveCashback
  withinCeiling withinBand liability { amount currency } rewardCost { amount currency } netRevenue { amount currency }
  tierDistribution { tier customers } }`;
const START_SIMULATION = `mutation StartSimulation($input: ProgramInput!, $from: DateTime!, $to: DateTime!) {
  startProgramSimulation(input: $input, from: $from, to: $to) { id } }`;
const POLL_SIMULATION = `query PollSimulation($id: ID!) { programSimulation(id: $id) { done customersDone comparison { ...Comparison } } }
fragment Comparison on ProgramComparison { proposed { ...Side } current { ...Side } notes }
fragment Side on ProgramSimulation { orders pointsIssued pointsPending pointsAvailable pointsExpired effectiveCashback
  withinCeiling withinBand liability { amount currency } rewardCost { amount currency } netRevenue { amount currency }
  tierDistribution { tier customers } }`;

function isoDay(ms) { return new Date(ms).toISOString().slice(0, 10); }

function simulationTable(c) {
  const row = (label, pick, good) => `<tr><th>${label}</th><td data-testid="sim-proposed">${pick(c.proposed)}</td><td>${pick(c.current)}</td>
    ${good ? `<td>${good(c.proposed) ? '✓' : '✗'}</td>` : '<td></td>'}</tr>`;
  const tiers = (s) => s.tierDistribution.map((t) => `${esc(t.tier)} ${t.customers}`).join(' · ');
  return `<table data-testid="simulation"><tr><th></th><th>Proposed</th><th>Today's program</th><th></th></tr>
    ${row('Effective cashback', (s) => `${(s.effectiveCashback * 100).toFixed(2)} %`, (s) => s.withinBand)}
    ${row('Within the ceiling', (s) => (s.withinCeiling ? 'yes' : '<span class="bad">no</span>'))}
    ${row('Liability at the end', (s) => money(s.liability))}
    ${row('Reward cost (observed redemption rate)', (s) => money(s.rewardCost))}
    ${row('Points issued', (s) => s.pointsIssued)}
    ${row('Pending / available / expired', (s) => `${s.pointsPending} / ${s.pointsAvailable} / ${s.pointsExpired}`)}
    ${row('Orders · net revenue', (s) => `${s.orders} · ${money(s.netRevenue)}`)}
    ${row('Tiers at the end', tiers)}</table>
    ${c.notes.map((n) => `<div class="msg error">${esc(n)}</div>`).join('')}
    <p class="muted">✓: inside the sustainable band of 3–5 % of net revenue.</p>`;
}

// ---- challenges: launch, end, live leaderboard --------------------------------------------------
const CHALLENGES = `query Challenges { challenges { id title status hashtag startsAt endsAt rewardPoints goal { event count } } }`;
const LEADERBOARD = `query Leaderboard($id: ID!, $first: Int) { challenge(id: $id) { id title status
  leaderboard(first: $first) { rank customerId progress completed } } }`;
let watched = null;

async function challengesView() {
  const { challenges } = await gql(CHALLENGES);
  const now = new Date();
  const inDays = (d) => new Date(now.getTime() + d * 86400000).toISOString().slice(0, 16);
  app.innerHTML = `<section><h2>Launch a challenge</h2>
    <form id="launch" class="inline">
      <label>Title<input name="title" required></label>
      <label>Goal<select name="event">${['ORDER_PAID', 'REVIEW_PUBLISHED', 'REFERRAL_CONVERTED', 'UGC_SUBMITTED'].map((k) => `<option>${k}</option>`).join('')}</select></label>
      <label>Count<input name="count" type="number" min="1" value="1" size="4"></label>
      <label>Reward points<input name="rewardPoints" type="number" min="0" value="100" size="6"></label>
      <label>Starts<input name="startsAt" type="datetime-local" value="${inDays(0)}"></label>
      <label>Ends<input name="endsAt" type="datetime-local" value="${inDays(14)}"></label>
      <button>Launch</button></form><div id="launch-msg"></div></section>
    <div class="grid2"><section><h2>Challenges</h2><table data-testid="challenges"><tr><th>Title</th><th>Status</th><th>Goal</th><th>Ends</th><th></th></tr>
      ${challenges.map((c) => `<tr data-challenge="${esc(c.id)}"><td><a href="#challenges" data-watch="${esc(c.id)}">${esc(c.title)}</a></td>
        <td data-testid="status">${c.status}</td><td>${c.goal.count} × ${c.goal.event}</td><td>${new Date(c.endsAt).toLocaleDateString()}</td>
        <td>${c.status !== 'ENDED' ? `<button class="danger" data-end="${esc(c.id)}">End</button>` : ''}</td></tr>`).join('')}</table></section>
      <section id="leaderboard"><h2>Leaderboard</h2><p class="muted">Pick a challenge.</p></section></div>`;
  document.getElementById('launch').addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    try {
      const { launchChallenge } = await gql('mutation($input: ChallengeInput!) { launchChallenge(input: $input) { id title } }', { input: {
        title: f.get('title'), goal: { event: f.get('event'), count: Number(f.get('count')) },
        rewardPoints: Number(f.get('rewardPoints')), startsAt: new Date(f.get('startsAt')).toISOString(),
        endsAt: new Date(f.get('endsAt')).toISOString(), idempotencyKey: crypto.randomUUID() } });
      watched = launchChallenge.id;
      await challengesView();
      message(document.getElementById('launch-msg'), `Launched “${launchChallenge.title}”`, 'ok');
    } catch (err) { message(document.getElementById('launch-msg'), `${err.code || 'ERROR'}: ${err.message}`); }
  });
  app.querySelectorAll('[data-end]').forEach((b) => b.addEventListener('click', async () => {
    try { await gql('mutation($id: ID!) { endChallenge(id: $id) { id status } }', { id: b.dataset.end }); await challengesView(); }
    catch (err) { message(document.getElementById('launch-msg'), `${err.code || 'ERROR'}: ${err.message}`); }
  }));
  app.querySelectorAll('[data-watch]').forEach((a) => a.addEventListener('click', (e) => { e.preventDefault(); watched = a.dataset.watch; leaderboard(); }));
  if (watched) await leaderboard();
}

async function leaderboard() {
  const el = document.getElementById('leaderboard');
  if (!el || !watched) return;
  const { challenge } = await gql(LEADERBOARD, { id: watched, first: 20 });
  if (!challenge) { el.innerHTML = '<h2>Leaderboard</h2><p class="muted">Not found.</p>'; return; }
  el.innerHTML = `<h2>Leaderboard · ${esc(challenge.title)} <span class="live-dot">● live</span></h2>
    <table data-testid="leaderboard"><tr><th>#</th><th>Customer</th><th>Progress</th><th></th></tr>
    ${challenge.leaderboard.map((e) => `<tr><td>${e.rank}</td><td>${esc(e.customerId || '')}</td><td>${e.progress}</td><td>${e.completed ? '✓' : ''}</td></tr>`).join('')}</table>
    ${challenge.leaderboard.length ? '' : '<p class="muted">Nobody has taken part yet.</p>'}`;
}
liveHandlers.add((event) => {
  if (location.hash === '#challenges' && watched && /^(challenge\.|points\.earned|review\.published)/.test(event.type)) leaderboard().catch(() => {});
});

// ---- review moderation queue --------------------------------------------------------------------
const QUEUE = `query ModerationQueue($first: Int) { moderationQueue(status: PENDING, first: $first) {
  edges { node { id rating title body customerId verifiedBuyer mediaUrls createdAt product { id } } } } }`;

async function reviewsView() {
  const { moderationQueue } = await gql(QUEUE, { first: 50 });
  const reviews = moderationQueue.edges.map((e) => e.node);
  app.innerHTML = `<section><h2>Moderation queue <span class="muted">(${reviews.length})</span></h2><div id="mod-msg"></div>
    <table data-testid="moderation-queue"><tr><th>Product</th><th>Rating</th><th>Review</th><th>Customer</th><th></th></tr>
    ${reviews.map((r) => `<tr data-review="${esc(r.id)}"><td>${esc(r.product.id)}</td><td>${'★'.repeat(r.rating)}</td>
      <td><strong>${esc(r.title || '')}</strong> ${esc(r.body)} ${r.verifiedBuyer ? '<span class="good">verified</span>' : ''}
        ${r.mediaUrls.map((u) => `<a href="${esc(u)}" target="_blank" rel="noopener">media</a>`).join(' ')}</td>
      <td>${esc(r.customerId || '')}</td>
      <td><button data-approve="${esc(r.id)}">Approve</button> <button class="danger" data-reject="${esc(r.id)}">Reject</button></td></tr>`).join('')}</table>
    ${reviews.length ? '' : '<p class="muted">Nothing waits for a decision.</p>'}</section>`;
  const decide = async (id, decision) => {
    const reason = decision === 'REJECT' ? (prompt('Reason for the customer?') || 'Does not meet the review guidelines') : null;
    try {
      await gql('mutation($id: ID!, $decision: ModerationDecision!, $reason: String) { moderateReview(id: $id, decision: $decision, reason: $reason) { id status } }',
        { id, decision, reason });
      await reviewsView();
      message(document.getElementById('mod-msg'), `Review ${decision === 'APPROVE' ? 'published' : 'rejected'}`, 'ok');
    } catch (err) { message(document.getElementById('mod-msg'), `${err.code || 'ERROR'}: ${err.message}`); }
  };
  app.querySelectorAll('[data-approve]').forEach((b) => b.addEventListener('click', () => decide(b.dataset.approve, 'APPROVE')));
  app.querySelectorAll('[data-reject]').forEach((b) => b.addEventListener('click', () => decide(b.dataset.reject, 'REJECT')));
}
liveHandlers.add((event) => { if (location.hash === '#reviews' && event.type === 'review.submitted') reviewsView().catch(() => {}); });

// ---- customer lookup ----------------------------------------------------------------------------
const CUSTOMER = `query CustomerLookup($id: ID!) { customer(id: $id) {
  id email firstName locale segment
  prediction { probabilityActive expectedOrders90d expectedValue12m { amount currency } model fittedAt }
  loyalty { balance pending lifetimeEarned tier { name } nextTier { name } amountToNextTier { amount currency } }
  pointsHistory(first: 20) { edges { node { id delta kind bucket reason createdAt } } }
  referrals { id status rejectionReason }
  referralStats { invited converted rejected reversed earned { amount currency } }
  reviews { id rating title status createdAt product { id } }
  notifications(first: 20) { edges { node { id channel template status createdAt sentAt error } } } } }`;

async function customersView(id = '') {
  app.innerHTML = `<section><h2>Customer lookup</h2><form id="lookup" class="inline">
    <label>Customer id<input name="id" value="${esc(id)}" required></label><button>Look up</button></form>
    <div id="customer"></div></section>`;
  document.getElementById('lookup').addEventListener('submit', (e) => { e.preventDefault(); customersView(new FormData(e.target).get('id').trim()); });
  if (!id) return;
  const out = document.getElementById('customer');
  try {
    const { customer: c } = await gql(CUSTOMER, { id });
    if (!c) { message(out, `No customer ${id}`); return; }
    const l = c.loyalty;
    out.innerHTML = `<div class="tiles" data-testid="profile">
      <div class="tile"><div class="muted">${esc(c.email || '')}</div><div class="value">${esc(c.firstName || c.id)}</div><div class="bench">${c.segment} · ${esc(c.locale || '')}</div></div>
      <div class="tile"><div class="muted">Points</div><div class="value" data-testid="customer-balance">${l.balance}</div><div class="bench">${l.pending} pending · ${l.lifetimeEarned} lifetime</div></div>
      <div class="tile"><div class="muted">Tier</div><div class="value">${esc(l.tier.name)}</div><div class="bench">${l.nextTier ? `${money(l.amountToNextTier)} to ${esc(l.nextTier.name)}` : 'top tier'}</div></div>
      <div class="tile"><div class="muted">Referrals</div><div class="value">${c.referralStats.converted}/${c.referralStats.invited}</div><div class="bench">earned ${money(c.referralStats.earned)}</div></div>
      <div class="tile" data-testid="prediction"><div class="muted">Probability still active</div>${c.prediction
        ? `<div class="value ${c.prediction.probabilityActive >= 0.5 ? 'good' : 'bad'}">${(c.prediction.probabilityActive * 100).toFixed(0)} %</div>
          <div class="bench">${c.prediction.expectedOrders90d.toFixed(2)} orders in 90 days · ${money(c.prediction.expectedValue12m)} in 12 months · ${esc(c.prediction.model)}, ${new Date(c.prediction.fittedAt).toLocaleDateString()}</div>`
        : '<div class="value">—</div><div class="bench">no prediction: see the dashboard</div>'}</div></div>
    <h3>Ledger</h3><table><tr><th>When</th><th>Δ</th><th>Kind</th><th>Bucket</th><th>Reason</th></tr>
      ${c.pointsHistory.edges.map(({ node: t }) => `<tr><td>${new Date(t.createdAt).toLocaleString()}</td><td>${t.delta > 0 ? '+' : ''}${t.delta}</td><td>${esc(t.kind)}</td><td>${esc(t.bucket)}</td><td>${esc(t.reason)}</td></tr>`).join('')}</table>
    <div class="grid2"><div><h3>Referrals</h3><table><tr><th>Id</th><th>Status</th><th>Reason</th></tr>
      ${c.referrals.map((r) => `<tr><td>${esc(r.id)}</td><td>${r.status}</td><td>${esc(r.rejectionReason || '')}</td></tr>`).join('')}</table></div>
    <div><h3>Reviews</h3><table><tr><th>Product</th><th>Rating</th><th>Status</th></tr>
      ${c.reviews.map((r) => `<tr><td>${esc(r.product.id)}</td><td>${'★'.repeat(r.rating)}</td><td>${r.status}</td></tr>`).join('')}</table></div></div>
    <h3>Notifications</h3><table data-testid="notifications"><tr><th>When</th><th>Channel</th><th>Template</th><th>Delivery</th><th>Error</th></tr>
      ${c.notifications.edges.map(({ node: n }) => `<tr><td>${new Date(n.createdAt).toLocaleString()}</td><td>${n.channel}</td><td>${esc(n.template)}</td>
        <td class="${n.status === 'SENT' ? 'good' : n.status === 'FAILED' ? 'bad' : ''}">${n.status}</td><td>${esc(n.error || '')}</td></tr>`).join('')}</table>`;
  } catch (err) { message(out, `${err.code || 'ERROR'}: ${err.message}`); }
}

// ---- retention dashboard ------------------------------------------------------------------------
const DASHBOARD = `query RetentionDashboard($from: DateTime!, $to: DateTime!) { retentionMetrics(from: $from, to: $to) {
  customerRetentionRate churnRate repeatPurchaseRate purchaseFrequency referralRate reorderRate60d
  medianDaysToSecondOrder averageOrderValue { amount currency } customerLifetimeValue { amount currency }
  cohorts { month size retention } } segmentCounts { segment count } programLiability { amount currency }
  predictionStatus { status reason buyers repeatBuyers minimumBuyers minimumRepeatBuyers fittedAt }
  offerPerformance(from: $from, to: $to) { source issued redeemed redemptionRate attributedRevenue { amount currency }
    discountCost { amount currency } costShare withinBand } }`;
// docs/domain.md, Retention metrics: e-commerce average retention ≈ 28 %; a good repeat purchase rate is 20–30 %, 40–50 % with strong retention work.
const BENCHMARKS = { retention: 28, repeatLow: 20, repeatHigh: 30, repeatStrong: 40 };
// What an incentive may cost as a share of the revenue it brings back: 3–5 %.
const OFFER_BAND = { low: 3, high: 5 };

async function dashboardView() {
  const to = new Date();
  const from = new Date(to.getTime() - 365 * 86400000);
  const { retentionMetrics: m, segmentCounts, programLiability, offerPerformance, predictionStatus: ps } = await gql(DASHBOARD, { from: from.toISOString(), to: to.toISOString() });
  const tile = (label, value, bench, good) => `<div class="tile"><div class="muted">${label}</div>
    <div class="value ${good === undefined ? '' : good ? 'good' : 'bad'}">${value}</div><div class="bench">${bench || ''}</div></div>`;
  app.innerHTML = `<section><h2>Retention · last 12 months</h2><div class="tiles" data-testid="kpis">
      ${tile('Customer retention rate', pct(m.customerRetentionRate), `benchmark ≈ ${BENCHMARKS.retention} % (e-commerce average)`, m.customerRetentionRate >= BENCHMARKS.retention)}
      ${tile('Churn rate', pct(m.churnRate))}
      ${tile('Repeat purchase rate', pct(m.repeatPurchaseRate), `good ${BENCHMARKS.repeatLow}–${BENCHMARKS.repeatHigh} %, strong ${BENCHMARKS.repeatStrong}–50 %`, m.repeatPurchaseRate >= BENCHMARKS.repeatLow)}
      ${tile('Purchase frequency', Number(m.purchaseFrequency).toFixed(2))}
      ${tile('Average order value', money(m.averageOrderValue))}
      ${tile('Customer lifetime value', money(m.customerLifetimeValue))}
      ${tile('Referral rate', pct(m.referralRate))}
      ${tile('60-day reorder rate', pct(m.reorderRate60d))}
      ${tile('Median days to 2nd order', m.medianDaysToSecondOrder ?? '—')}
      ${tile('Program liability', `<span data-testid="liability">${money(programLiability)}</span>`, 'outstanding points × point value')}
      ${tile('Predictions', `<span data-testid="prediction-status">${ps.status === 'FITTED' ? 'fitted' : ps.status === 'TOO_FEW_BUYERS' ? 'too few buyers' : ps.status === 'NEVER_FITTED' ? 'not yet' : 'not fitted'}</span>`,
        ps.status === 'FITTED' ? `${ps.buyers} buyers (${ps.repeatBuyers} repeat), ${new Date(ps.fittedAt).toLocaleString()}`
          : `${esc(ps.reason || '')} (needs ${ps.minimumBuyers} buyers, ${ps.minimumRepeatBuyers} repeat)`, ps.status === 'FITTED')}
    </div><button class="ghost" id="refit">Fit predictions now</button><div id="refit-msg"></div></section>
    <div class="grid2"><section><h2>Cohort retention</h2>${heatmap(m.cohorts)}</section>
    <section><h2>Segments</h2>${bars(segmentCounts)}</section></div>
    <section><h2>Offers · what each source brought back</h2>${offersTable(offerPerformance)}</section>`;
  document.getElementById('refit').addEventListener('click', async () => {
    try {
      await gql('mutation Refit { refreshPredictions { status } }');
      await dashboardView();
    } catch (err) { message(document.getElementById('refit-msg'), `${err.code || 'ERROR'}: ${err.message}`); }
  });
}

function offersTable(rows) {
  if (!rows.length) return '<p class="muted">No offers issued in this period.</p>';
  return `<div class="grid2"><table data-testid="offer-performance"><tr><th>Source</th><th>Issued</th><th>Redeemed</th>
      <th>Rate</th><th>Attributed revenue</th><th>Discount cost</th><th>Cost share</th></tr>
    ${rows.map((r) => `<tr data-source="${esc(r.source)}"><th>${esc(r.source)}</th><td>${r.issued}</td><td>${r.redeemed}</td>
      <td>${pct(r.redemptionRate)}</td><td>${money(r.attributedRevenue)}</td><td>${money(r.discountCost)}</td>
      <td class="${r.withinBand ? 'good' : 'bad'}">${pct(r.costShare)}</td></tr>`).join('')}</table>
    ${offersChart(rows)}</div>
    <p class="muted">Of the offers issued in the period: how many an order used, the net revenue of those orders after
      refunds, and their discounts. A cost share within the ${OFFER_BAND.low}–${OFFER_BAND.high} % band pays for itself.</p>`;
}

// Cost share per source, with the 3–5 % band shaded; the scale reaches at least 10 %.
function offersChart(rows) {
  const width = 260;
  const top = Math.max(10, ...rows.map((r) => r.costShare));
  const x = (v) => 90 + (Math.min(v, top) / top) * width;
  const h = 26;
  const height = rows.length * h + 22;
  return `<svg data-testid="offer-chart" width="100%" height="${height}" role="img" aria-label="discount cost as a share of attributed revenue per source">
    <rect x="${x(OFFER_BAND.low)}" y="0" width="${x(OFFER_BAND.high) - x(OFFER_BAND.low)}" height="${height - 18}" fill="#e3f4e8"></rect>
    <text x="${x(OFFER_BAND.low)}" y="${height - 4}" font-size="11">${OFFER_BAND.low}–${OFFER_BAND.high} %</text>
    ${rows.map((r, i) => `<g transform="translate(0,${i * h})"><text x="0" y="17" font-size="12">${esc(r.source)}</text>
      <rect data-share="${r.costShare}" x="90" y="4" height="18" rx="3" fill="${r.withinBand ? '#2f6fed' : '#d9534f'}" width="${Math.max(2, x(r.costShare) - 90)}"></rect>
      <text x="${x(r.costShare) + 6}" y="17" font-size="12">${pct(r.costShare)}</text></g>`).join('')}</svg>`;
}

function heatmap(cohorts) {
  if (!cohorts.length) return '<p class="muted">No cohorts yet.</p>';
  const months = Math.max(...cohorts.map((c) => c.retention.length));
  const cell = (v) => `<td style="background: rgba(47,111,237,${(Math.min(100, v) / 100).toFixed(2)}); color: ${v > 55 ? '#fff' : '#1d2433'}">${v.toFixed(0)}</td>`;
  return `<table class="heat" data-testid="cohorts"><tr><th>Cohort</th><th>Size</th>${Array.from({ length: months }, (_, i) => `<th>M${i}</th>`).join('')}</tr>
    ${cohorts.map((c) => `<tr><th>${esc(c.month)}</th><td>${c.size}</td>${c.retention.map(cell).join('')}</tr>`).join('')}</table>`;
}

function bars(counts) {
  const max = Math.max(1, ...counts.map((c) => c.count));
  const h = 26;
  return `<svg data-testid="segments" width="100%" height="${counts.length * h + 4}" role="img" aria-label="customers per segment">
    ${counts.map((c, i) => `<g transform="translate(0,${i * h})"><text x="0" y="17" font-size="12">${c.segment}</text>
      <rect x="90" y="4" height="18" rx="3" fill="#2f6fed" width="${Math.max(2, (c.count / max) * 260)}"></rect>
      <text x="${96 + (c.count / max) * 260}" y="17" font-size="12">${c.count}</text></g>`).join('')}</svg>`;
}

// ---- routing ------------------------------------------------------------------------------------
const VIEWS = { '#program': programView, '#challenges': challengesView, '#reviews': reviewsView, '#customers': () => customersView(), '#dashboard': dashboardView };

async function route() {
  if (!credential) { signIn(); return; }
  const hash = VIEWS[location.hash] ? location.hash : '#program';
  document.querySelectorAll('#tabs a').forEach((a) => a.classList.toggle('active', a.getAttribute('href') === hash));
  document.getElementById('who').innerHTML = `signed in · <a href="#" id="signout" style="color:#c9d3ea">sign out</a>`;
  document.getElementById('signout').addEventListener('click', (e) => { e.preventDefault(); signOut(); });
  try { await VIEWS[hash](); } catch (err) {
    if (err.code === 'UNAUTHENTICATED' || err.code === 'FORBIDDEN') { signOut(); signIn(`${err.code}: ${err.message}`); return; }
    app.innerHTML = `<div class="msg error">${esc(err.code || 'ERROR')}: ${esc(err.message)}</div>`;
  }
}
window.addEventListener('hashchange', route);
if (credential) startLive();
route();
