/* Flywheel storefront rewards widget: one script tag, one custom element.
 *
 *   <script src="https://console.example/widget.js" defer></script>
 *   <flywheel-rewards api="https://api.example/graphql" live="https://console.example/live"
 *                     lang="de" token="<customer JWT>"></flywheel-rewards>
 *
 * The host page supplies the customer's JWT, either as the `token` attribute or as a function
 * (`element.tokenProvider = async () => token`, called before every request, so the host can
 * refresh it). The widget uses only the public GraphQL API (operations as in
 * clients/typescript/operations/storefront.graphql) and re-reads it when the live stream (`live`,
 * server-sent events driven by the shop's events) says something changed for this customer.
 */
(() => {
  const TEXT = {
    en: {
      points: 'points', pending: 'pending', tier: 'Tier', toNext: (amount, tier) => `${amount} more to ${tier}`,
      topTier: 'You are in the top tier', rewards: 'Rewards', redeem: 'Redeem', yourCodes: 'Your codes',
      code: 'Your code', refer: 'Refer a friend', copy: 'Copy', copied: 'Copied',
      reviews: 'Review your purchases', rating: 'Rating', title: 'Title', body: 'Your review', send: 'Send review',
      thanks: 'Thank you! Your review is being checked.', challenges: 'Challenges', join: 'Join',
      progress: (p, g) => `${p} of ${g}`, done: 'Completed', signIn: 'Sign in to see your rewards.',
      error: 'Something went wrong', notEnough: 'Not enough points', live: 'live', storeCredit: 'Store credit',
      expiring: (n, d) => `${n} points expire on ${d}`,
      offer: { PERCENTAGE: (v) => `${v} % off`, FIXED_AMOUNT: (v) => `${v} off`, STORE_CREDIT: (v) => `${v} store credit`,
        FREE_SHIPPING: () => 'Free shipping', FREE_PRODUCT: () => 'A free product' },
      minOrder: (amount) => `from ${amount}`, validUntil: (d) => `valid until ${d}`,
    },
    de: {
      points: 'Punkte', pending: 'vorgemerkt', tier: 'Stufe', toNext: (amount, tier) => `Noch ${amount} bis ${tier}`,
      topTier: 'Du bist in der höchsten Stufe', rewards: 'Prämien', redeem: 'Einlösen', yourCodes: 'Deine Codes',
      code: 'Dein Code', refer: 'Freunde werben', copy: 'Kopieren', copied: 'Kopiert',
      reviews: 'Bewerte deine Einkäufe', rating: 'Bewertung', title: 'Titel', body: 'Deine Bewertung',
      send: 'Bewertung senden', thanks: 'Danke! Deine Bewertung wird geprüft.', challenges: 'Challenges',
      join: 'Mitmachen', progress: (p, g) => `${p} von ${g}`, done: 'Geschafft',
      signIn: 'Melde dich an, um deine Prämien zu sehen.', error: 'Etwas ist schiefgelaufen',
      notEnough: 'Nicht genug Punkte', live: 'live', storeCredit: 'Guthaben',
      expiring: (n, d) => `${n} Punkte verfallen am ${d}`,
      offer: { PERCENTAGE: (v) => `${v} % Rabatt`, FIXED_AMOUNT: (v) => `${v} Rabatt`, STORE_CREDIT: (v) => `${v} Guthaben`,
        FREE_SHIPPING: () => 'Kostenloser Versand', FREE_PRODUCT: () => 'Ein Gratisprodukt' },
      minOrder: (amount) => `ab ${amount}`, validUntil: (d) => `gültig bis ${d}`,
    },
  };

  // The registered RewardsPanel, RedeemReward and SubmitReview (gateway/persisted/, the same documents as
  // clients/typescript/operations/storefront.graphql).
  const WIDGET_QUERY = `query RewardsPanel {
  me {
    id firstName locale
    loyalty { balance pending lifetimeEarned
      tier { name multiplier perks threshold { amount currency } } nextTier { name threshold { amount currency } }
      amountToNextTier { amount currency } expiringPoints expiringAt }
    storeCredit { amount currency }
    offers(status: ACTIVE) { id code source kind value currency minOrder { amount currency } expiresAt }
    referralCode referralLink referralStats { invited converted earned { amount currency } }
    pendingReviews { orderId deliveredAt dueAt product { id } }
    challengeProgress { progress completed challenge { id title endsAt } }
  }
  rewardsCatalog { id name kind pointsCost value { amount currency } percentOff minTier active }
  challenges(status: ACTIVE) { id title description hashtag endsAt rewardPoints goal { event count } }
}`;
  const REDEEM = `mutation RedeemReward($rewardId: ID!, $idempotencyKey: String!) {
  redeemReward(rewardId: $rewardId, idempotencyKey: $idempotencyKey) {
    id code pointsSpent expiresAt value { amount currency } percentOff reward { id name } } }`;
  const SUBMIT_REVIEW = `mutation SubmitReview($input: ReviewInput!) {
  submitReview(input: $input) { id status rating title body verifiedBuyer incentivized product { id } } }`;
  const JOIN = `mutation JoinChallenge($id: ID!) { joinChallenge(id: $id) { progress completed challenge { id title } } }`;

  const STYLE = `
    :host { display: block; font: 14px/1.4 system-ui, sans-serif; color: #1d2433; max-width: 420px; }
    .card { border: 1px solid #d8dce6; border-radius: 10px; padding: 14px; background: #fff; }
    h3 { font-size: 13px; text-transform: uppercase; letter-spacing: .04em; color: #5a6275; margin: 16px 0 6px; }
    .balance { font-size: 28px; font-weight: 700; } .muted { color: #5a6275; }
    .bar { height: 8px; background: #eceff5; border-radius: 4px; overflow: hidden; margin: 6px 0; }
    .bar > span { display: block; height: 100%; background: #2f6fed; transition: width .4s; }
    ul { list-style: none; padding: 0; margin: 0; } li { padding: 6px 0; border-bottom: 1px solid #f0f2f6; }
    li:last-child { border-bottom: 0; }
    .row { display: flex; justify-content: space-between; align-items: center; gap: 8px; }
    button { font: inherit; border: 1px solid #2f6fed; background: #2f6fed; color: #fff; border-radius: 6px;
      padding: 3px 10px; cursor: pointer; } button[disabled] { opacity: .45; cursor: default; }
    button.secondary { background: #fff; color: #2f6fed; }
    code { background: #f3f5f9; padding: 2px 6px; border-radius: 4px; font-weight: 600; white-space: nowrap; }
    input, textarea, select { font: inherit; width: 100%; box-sizing: border-box; margin: 2px 0 6px; }
    .live { font-size: 11px; color: #1a7f37; } .live.off { color: #9aa1b0; }
    .flash { animation: flash 1s; } @keyframes flash { from { background: #fff3bf; } to { background: transparent; } }
    .error { color: #b42318; }`;

  class FlywheelRewards extends HTMLElement {
    static get observedAttributes() { return ['token', 'lang', 'api']; }

    constructor() {
      super();
      this.attachShadow({ mode: 'open' });
      this.state = null;
      this.notice = '';
      this.lastCode = null;
      this.sentReviews = new Set();
      this.tokenProvider = null;
    }

    get t() { return TEXT[(this.getAttribute('lang') || 'en').slice(0, 2)] || TEXT.en; }
    get lang() { return (this.getAttribute('lang') || 'en').slice(0, 2) === 'de' ? 'de-DE' : 'en-GB'; }

    connectedCallback() { this.refresh(); this.listen(); }
    disconnectedCallback() { this.stopListening(); }
    attributeChangedCallback(name, before, after) {
      if (!this.isConnected || before === after) return;
      if (name === 'token') { this.stopListening(); this.listen(); }
      this.refresh();
    }

    async token() {
      if (typeof this.tokenProvider === 'function') return this.tokenProvider();
      return this.getAttribute('token');
    }

    async gql(query, variables = {}) {
      const token = await this.token();
      if (!token) throw Object.assign(new Error('no token'), { code: 'UNAUTHENTICATED' });
      const response = await fetch(this.getAttribute('api') || '/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query, variables }),
      });
      const body = await response.json();
      if (body.errors && body.errors.length) {
        const first = body.errors[0];
        throw Object.assign(new Error(first.message), { code: first.extensions && first.extensions.code });
      }
      return body.data;
    }

    async refresh() {
      const turn = (this.turn = (this.turn || 0) + 1); // a slower, older read must not win
      try {
        const before = this.state && this.state.me && this.state.me.loyalty;
        const state = await this.gql(WIDGET_QUERY);
        if (turn !== this.turn) return;
        this.state = state;
        this.error = null;
        const after = this.state.me && this.state.me.loyalty;
        this.changed = Boolean(before && after && (before.balance !== after.balance || before.pending !== after.pending
          || before.tier.name !== after.tier.name));
      } catch (err) {
        if (turn !== this.turn) return;
        this.error = err;
      }
      this.render();
    }

    // Live updates: server-sent events read through fetch, so the token goes in a header rather
    // than the URL. Reconnects with a growing pause; every event triggers one re-read.
    async listen() {
      const url = this.getAttribute('live');
      if (!url || this.stream) return;
      const controller = new AbortController();
      this.stream = controller;
      let pause = 1000;
      while (this.stream === controller) {
        try {
          const token = await this.token();
          if (!token) { this.stream = null; return; }
          const response = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal: controller.signal });
          if (!response.ok || !response.body) throw new Error(`live stream: ${response.status}`);
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
              if (block.startsWith(': connected')) { this.setLive(true); pause = 1000; }
              else if (block.includes('\ndata: ') || block.startsWith('data: ')) this.onLiveEvent(block);
            }
          }
        } catch (err) {
          if (controller.signal.aborted) return;
        }
        this.setLive(false);
        await new Promise((r) => setTimeout(r, pause));
        pause = Math.min(pause * 2, 30000);
      }
    }

    stopListening() { if (this.stream) { this.stream.abort(); this.stream = null; } this.setLive(false); }

    setLive(on) {
      this.dataset.live = on ? 'connected' : 'off';
      const badge = this.shadowRoot.querySelector('.live');
      if (badge) badge.className = on ? 'live' : 'live off';
    }

    onLiveEvent(block) {
      clearTimeout(this.pendingRefresh);
      this.pendingRefresh = setTimeout(() => this.refresh(), 150);
      // A published review moves challenge progress in the points service, which says nothing
      // unless the challenge is completed: read once more when it has had time to count it.
      if (/^event: review\.published/m.test(block)) {
        clearTimeout(this.laterRefresh);
        this.laterRefresh = setTimeout(() => this.refresh(), 2000);
      }
    }

    money(m) {
      if (!m) return '';
      return new Intl.NumberFormat(this.lang, { style: 'currency', currency: m.currency }).format(Number(m.amount));
    }

    // "20 % off", "5,00 € Rabatt", "Free shipping": an offer as the customer reads it.
    offerText(o) {
      const amount = o.kind === 'PERCENTAGE' ? Number(o.value).toLocaleString(this.lang)
        : o.value ? this.money({ amount: o.value, currency: o.currency }) : '';
      return (this.t.offer[o.kind] || (() => o.kind))(amount);
    }

    tierProgress(loyalty) {
      if (!loyalty.nextTier || !loyalty.amountToNextTier) return 100;
      const from = Number(loyalty.tier.threshold.amount);
      const to = Number(loyalty.nextTier.threshold.amount);
      const gap = Number(loyalty.amountToNextTier.amount);
      if (!(to > from)) return 0;
      return Math.max(0, Math.min(100, ((to - gap - from) / (to - from)) * 100));
    }

    render() {
      const t = this.t;
      const root = this.shadowRoot;
      const live = this.dataset.live === 'connected';
      if (!this.state || !this.state.me) {
        const message = this.error && this.error.code !== 'UNAUTHENTICATED' ? `${t.error}: ${this.error.message}` : t.signIn;
        root.innerHTML = `<style>${STYLE}</style><div class="card" part="card"><p class="muted">${esc(message)}</p></div>`;
        return;
      }
      const { me, rewardsCatalog, challenges } = this.state;
      const l = me.loyalty;
      const progressById = new Map(me.challengeProgress.map((p) => [p.challenge.id, p]));
      root.innerHTML = `<style>${STYLE}</style>
      <div class="card" part="card">
        <div class="row"><span class="muted">${esc(me.firstName || '')}</span>
          <span class="${live ? 'live' : 'live off'}">● ${t.live}</span></div>
        <div class="row ${this.changed ? 'flash' : ''}">
          <div><span class="balance" data-testid="balance">${l.balance}</span> ${t.points}</div>
          <div class="muted"><span data-testid="pending">${l.pending}</span> ${t.pending}</div>
        </div>
        ${l.expiringPoints ? `<div class="muted">${esc(t.expiring(l.expiringPoints, new Date(l.expiringAt).toLocaleDateString(this.lang)))}</div>` : ''}
        <h3>${t.tier}: <span data-testid="tier">${esc(l.tier.name)}</span></h3>
        <div class="bar" role="progressbar" aria-valuemin="0" aria-valuemax="100"
             aria-valuenow="${Math.round(this.tierProgress(l))}"><span style="width:${this.tierProgress(l)}%"></span></div>
        <div class="muted" data-testid="tier-gap">${l.nextTier ? esc(t.toNext(this.money(l.amountToNextTier), l.nextTier.name)) : t.topTier}</div>
        ${Number(me.storeCredit.amount) > 0 ? `<div class="muted">${t.storeCredit}: ${this.money(me.storeCredit)}</div>` : ''}

        <h3>${t.rewards}</h3>
        <ul data-testid="rewards">${rewardsCatalog.filter((r) => r.active).map((r) => `
          <li class="row"><span>${esc(r.name)} <span class="muted">· ${r.pointsCost} ${t.points}</span></span>
            <button data-redeem="${esc(r.id)}" ${l.balance < r.pointsCost ? `disabled title="${t.notEnough}"` : ''}>${t.redeem}</button></li>`).join('')}
        </ul>
        ${this.lastCode ? `<p>${t.code}: <code data-testid="reward-code">${esc(this.lastCode)}</code></p>` : ''}
        ${me.offers.length ? `<h3>${t.yourCodes}</h3><ul data-testid="codes">${me.offers.map((o) => `
          <li data-offer="${esc(o.id)}"><div class="row"><span>${esc(this.offerText(o))}</span>
            <button class="secondary" data-copy-code="${esc(o.code)}">${t.copy}</button></div>
            <div class="row"><code data-testid="offer-code">${esc(o.code)}</code>
            <span class="muted">${esc([o.minOrder ? t.minOrder(this.money(o.minOrder)) : '',
              o.expiresAt ? t.validUntil(new Date(o.expiresAt).toLocaleDateString(this.lang)) : ''].filter(Boolean).join(' · '))}</span></div></li>`).join('')}</ul>` : ''}

        <h3>${t.refer}</h3>
        <div class="row"><input readonly data-testid="referral-link" value="${esc(me.referralLink)}">
          <button class="secondary" data-copy>${t.copy}</button></div>

        ${me.pendingReviews.filter((p) => !this.sentReviews.has(p.orderId + p.product.id)).length ? `<h3>${t.reviews}</h3>` : ''}
        <ul>${me.pendingReviews.filter((p) => !this.sentReviews.has(p.orderId + p.product.id)).map((p) => `
          <li><form data-review data-product="${esc(p.product.id)}" data-order="${esc(p.orderId)}">
            <strong>${esc(p.product.id)}</strong>
            <label>${t.rating} <select name="rating">${[5, 4, 3, 2, 1].map((n) => `<option value="${n}">${'★'.repeat(n)}</option>`).join('')}</select></label>
            <input name="title" placeholder="${t.title}" maxlength="200">
            <textarea name="body" placeholder="${t.body}" required minlength="10" rows="2"></textarea>
            <button type="submit">${t.send}</button></form></li>`).join('')}</ul>
        ${this.notice ? `<p class="muted" data-testid="notice">${esc(this.notice)}</p>` : ''}

        ${challenges.length ? `<h3>${t.challenges}</h3>` : ''}
        <ul data-testid="challenges">${challenges.map((c) => {
          const p = progressById.get(c.id);
          const pct = p ? Math.min(100, (p.progress / c.goal.count) * 100) : 0;
          return `<li data-challenge="${esc(c.id)}"><div class="row"><strong>${esc(c.title)}</strong>
            ${p ? `<span class="muted" data-testid="challenge-progress">${p.completed ? t.done : esc(t.progress(p.progress, c.goal.count))}</span>`
              : `<button class="secondary" data-join="${esc(c.id)}">${t.join}</button>`}</div>
            ${p ? `<div class="bar"><span style="width:${pct}%"></span></div>` : ''}
            <div class="muted">+${c.rewardPoints} ${t.points}</div></li>`;
        }).join('')}</ul>
        ${this.error ? `<p class="error" data-testid="error">${esc(this.error.message)}</p>` : ''}
      </div>`;
      this.changed = false;
      this.bind();
    }

    bind() {
      const root = this.shadowRoot;
      root.querySelectorAll('[data-redeem]').forEach((button) => button.addEventListener('click', async () => {
        button.disabled = true;
        try {
          const key = (crypto.randomUUID && crypto.randomUUID()) || String(Date.now() + Math.random());
          const data = await this.gql(REDEEM, { rewardId: button.dataset.redeem, idempotencyKey: key });
          this.lastCode = data.redeemReward.code;
          this.error = null;
        } catch (err) { this.error = err; }
        await this.refresh();
      }));
      const copy = root.querySelector('[data-copy]');
      if (copy) copy.addEventListener('click', async () => {
        const input = root.querySelector('[data-testid="referral-link"]');
        try { await navigator.clipboard.writeText(input.value); } catch { input.select(); document.execCommand('copy'); }
        copy.textContent = this.t.copied;
      });
      root.querySelectorAll('[data-copy-code]').forEach((button) => button.addEventListener('click', async () => {
        const code = button.dataset.copyCode;
        try { await navigator.clipboard.writeText(code); } catch {
          const field = Object.assign(document.createElement('textarea'), { value: code });
          root.appendChild(field); field.select(); document.execCommand('copy'); field.remove();
        }
        button.textContent = this.t.copied;
      }));
      root.querySelectorAll('form[data-review]').forEach((form) => form.addEventListener('submit', async (event) => {
        event.preventDefault();
        const f = new FormData(form);
        try {
          await this.gql(SUBMIT_REVIEW, { input: {
            productId: form.dataset.product, orderId: form.dataset.order, rating: Number(f.get('rating')),
            title: f.get('title') || null, body: f.get('body') } });
          this.sentReviews.add(form.dataset.order + form.dataset.product);
          this.notice = this.t.thanks;
          this.error = null;
        } catch (err) { this.error = err; }
        await this.refresh();
      }));
      root.querySelectorAll('[data-join]').forEach((button) => button.addEventListener('click', async () => {
        try { await this.gql(JOIN, { id: button.dataset.join }); this.error = null; } catch (err) { this.error = err; }
        await this.refresh();
      }));
    }
  }

  function esc(value) {
    return String(value ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
  }

  if (!customElements.get('flywheel-rewards')) customElements.define('flywheel-rewards', FlywheelRewards);
})();
