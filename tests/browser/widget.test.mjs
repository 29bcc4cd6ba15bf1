// The storefront widget on the demo page: points, tier progress, redeem a reward and see the code,
// the customer's codes with a copy button, review a delivered product, join a challenge, German, and
// live updates after an order is paid.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { CONSOLE, eventually, gql, launchBrowser, newCustomer, newShop, order, screenshot, unique, watchErrors } from './support.mjs';

let browser;
before(async () => { browser = await launchBrowser(); });
after(async () => { await browser?.close(); });

const $ = (page, testid) => page.locator(`flywheel-rewards >> [data-testid=${testid}]`);

async function openWidget(shop, customer, lang = 'en') {
  const page = await browser.newPage({ viewport: { width: 1200, height: 1000 } });
  const errors = watchErrors(page);
  await page.goto(`${CONSOLE}/demo?lang=${lang}&token=${encodeURIComponent(shop.customerToken(customer))}`);
  try {
    await $(page, 'balance').waitFor({ timeout: 15000 });
  } catch (err) {
    await screenshot(page, `widget-failed-${customer}`);
    throw new Error(`widget did not show a balance: ${await page.locator('flywheel-rewards >> .card').textContent().catch(() => '?')} ${errors}`);
  }
  return { page, errors };
}

test('redeem a reward in the widget and see its code', async () => {
  const shop = newShop();
  const customer = await newCustomer(shop);
  const rewardName = unique('Voucher');
  const { upsertReward: reward } = await gql('mutation($i: RewardInput!) { upsertReward(input: $i) { id } }',
    { i: { name: rewardName, kind: 'FIXED_AMOUNT', pointsCost: 100, value: '5.00', active: true } }, shop.admin);
  await gql('mutation($c: ID!) { adjustPoints(customerId: $c, delta: 250, reason: "welcome", idempotencyKey: "w") { balance } }',
    { c: customer }, shop.admin);

  const { page, errors } = await openWidget(shop, customer);
  assert.equal((await $(page, 'balance').textContent()).trim(), '250');
  assert.match(await $(page, 'tier-gap').textContent(), /more to /);
  await page.locator(`flywheel-rewards >> button[data-redeem="${reward.id}"]`).click();
  await $(page, 'reward-code').waitFor();
  const code = (await $(page, 'reward-code').textContent()).trim();
  await eventually(async () => (await $(page, 'balance').textContent()).trim() === '150', { what: 'balance 150' });

  const { me } = await gql('{ me { loyalty { balance } redemptions { code reward { id } } } }', {}, shop.customer(customer));
  assert.equal(me.loyalty.balance, 150);
  assert.deepEqual(me.redemptions.map((r) => [r.code, r.reward.id]), [[code, reward.id]]);
  await screenshot(page, 'widget-redeemed');
  assert.deepEqual(errors, []);
  await page.close();
});

test('your codes: every usable offer with its value, minimum, expiry and a copy button (en, de)', async () => {
  const shop = newShop();
  const customer = await newCustomer(shop);
  const issue = 'mutation($i: IssueOfferInput!) { issueOffer(input: $i) { id code } }';
  const { issueOffer: percent } = await gql(issue, { i: { customerId: customer, kind: 'PERCENTAGE', value: '20', minOrder: '12.00', validDays: 30 } }, shop.admin);
  const { issueOffer: shipping } = await gql(issue, { i: { customerId: customer, source: 'AT_RISK' } }, shop.admin);
  const { issueOffer: used } = await gql(issue, { i: { customerId: customer, kind: 'FIXED_AMOUNT', value: '5.00' } }, shop.admin);
  await gql('mutation($c: String!, $o: ID!, $cart: CartInput!) { redeemCode(code: $c, orderId: $o, cart: $cart) { valid } }',
    { c: used.code, o: unique('o'), cart: { currency: 'EUR', subtotal: '30.00', customerId: customer } }, shop.admin);

  for (const [lang, texts] of [['en', ['20 % off', 'from €12.00', 'Free shipping', 'valid until']],
    ['de', ['20 % Rabatt', 'ab 12,00', 'Kostenloser Versand', 'gültig bis']]]) {
    const context = await browser.newContext({ viewport: { width: 1200, height: 1000 }, permissions: ['clipboard-read', 'clipboard-write'] });
    const page = await context.newPage();
    const errors = watchErrors(page);
    await page.goto(`${CONSOLE}/demo?lang=${lang}&token=${encodeURIComponent(shop.customerToken(customer))}`);
    await $(page, 'codes').waitFor({ timeout: 15000 });
    const shown = await page.locator('flywheel-rewards >> [data-testid=offer-code]').allTextContents();
    assert.deepEqual(shown.sort(), [percent.code, shipping.code].sort(), 'the used code is not listed');
    const list = await $(page, 'codes').textContent();
    for (const text of texts) assert.ok(list.includes(text), `${lang}: "${text}" in ${list}`);
    const copy = page.locator(`flywheel-rewards >> li[data-offer="${percent.id}"] button[data-copy-code]`);
    await copy.click();
    // The click handler awaits the clipboard before it relabels the button.
    const copied = lang === 'de' ? 'Kopiert' : 'Copied';
    await eventually(async () => (await copy.textContent()).trim() === copied, { what: `button says ${copied}` });
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), percent.code);
    await screenshot(page, `widget-codes-${lang}`);
    assert.deepEqual(errors, []);
    await context.close();
  }
});

test('the balance changes live when an order is paid (no reload, no polling)', async () => {
  const shop = newShop();
  const customer = await newCustomer(shop);
  const { page, errors } = await openWidget(shop, customer);
  await page.waitForFunction(() => document.querySelector('flywheel-rewards').dataset.live === 'connected');
  assert.equal((await $(page, 'pending').textContent()).trim(), '0');
  // Count the widget's GraphQL reads: one more after the event, not a stream of polls.
  let reads = 0;
  page.on('request', (r) => { if (r.url().endsWith('/graphql')) reads += 1; });
  await page.evaluate(() => { window.notReloaded = true; });
  await screenshot(page, 'widget-before-order');

  await order(shop, customer, ['PAID']); // 45 points, pending until the return window has passed
  await eventually(async () => (await $(page, 'pending').textContent()).trim() === '45', { what: 'pending 45 in the widget' });
  assert.equal(await page.evaluate(() => window.notReloaded), true, 'the page was not reloaded');
  assert.ok(reads >= 1 && reads <= 3, `re-read ${reads} times`);

  // An admin adjustment moves the available balance the same way.
  await gql('mutation($c: ID!) { adjustPoints(customerId: $c, delta: 20, reason: "sorry", idempotencyKey: "s") { balance } }',
    { c: customer }, shop.admin);
  await eventually(async () => (await $(page, 'balance').textContent()).trim() === '20', { what: 'balance 20 in the widget' });
  await screenshot(page, 'widget-after-order-live');
  assert.deepEqual(errors, []);
  await page.close();
});

test("another customer's events do not reach the widget", async () => {
  const shop = newShop();
  const anna = await newCustomer(shop);
  const ben = await newCustomer(shop);
  const { page } = await openWidget(shop, anna);
  await page.waitForFunction(() => document.querySelector('flywheel-rewards').dataset.live === 'connected');
  let reads = 0;
  page.on('request', (r) => { if (r.url().endsWith('/graphql')) reads += 1; });
  await order(shop, ben, ['PAID']);
  await eventually(async () => (await gql('{ me { loyalty { pending } } }', {}, shop.customer(ben))).me.loyalty.pending === 45,
    { what: "ben's points" });
  await new Promise((r) => setTimeout(r, 1500)); // time for a wrongly routed event to arrive
  assert.equal(reads, 0, "anna's widget re-read after ben's event");
  assert.equal((await $(page, 'pending').textContent()).trim(), '0');
  await page.close();
});

test('review a delivered product and join a challenge, in German', async () => {
  const shop = newShop();
  const customer = await newCustomer(shop, { locale: 'de' });
  const product = unique('p-bohnen');
  await order(shop, customer, ['PAID', 'SHIPPED', 'DELIVERED'], product);
  await eventually(async () => (await gql('{ me { pendingReviews { product { id } } } }', {}, shop.customer(customer)))
    .me.pendingReviews.length > 0, { what: 'a pending review after delivery' });
  const now = Date.now();
  const { launchChallenge: challenge } = await gql('mutation($i: ChallengeInput!) { launchChallenge(input: $i) { id } }', { i: {
    title: 'Bewertungswoche', goal: { event: 'REVIEW_PUBLISHED', count: 1 }, rewardPoints: 50,
    startsAt: new Date(now - 60000).toISOString(), endsAt: new Date(now + 86400000).toISOString() } }, shop.admin);

  const { page, errors } = await openWidget(shop, customer, 'de');
  assert.match(await page.locator('flywheel-rewards >> .card').textContent(), /Punkte/);
  assert.match(await page.locator('flywheel-rewards >> .card').textContent(), /Bewerte deine Einkäufe/);
  await page.locator(`flywheel-rewards >> button[data-join="${challenge.id}"]`).click();
  await page.locator(`flywheel-rewards >> li[data-challenge="${challenge.id}"] [data-testid=challenge-progress]`).waitFor();
  assert.equal((await page.locator(`flywheel-rewards >> li[data-challenge="${challenge.id}"] [data-testid=challenge-progress]`).textContent()).trim(), '0 von 1');

  const form = page.locator(`flywheel-rewards >> form[data-product="${product}"]`);
  await form.locator('select[name=rating]').selectOption('4');
  await form.locator('input[name=title]').fill('Sehr aromatisch');
  await form.locator('textarea[name=body]').fill('Kräftig, nussig und frisch geröstet.');
  await form.locator('button[type=submit]').click();
  await $(page, 'notice').waitFor();
  assert.match(await $(page, 'notice').textContent(), /Danke/);
  const { me } = await gql('{ me { reviews { rating title status product { id } } } }', {}, shop.customer(customer));
  assert.deepEqual(me.reviews.map((r) => [r.product.id, r.rating, r.status]), [[product, 4, 'PENDING']]);

  // Once the merchant publishes it, the challenge progress moves live in the widget.
  const { moderationQueue } = await gql('{ moderationQueue { edges { node { id } } } }', {}, shop.admin);
  await gql('mutation($id: ID!) { moderateReview(id: $id, decision: APPROVE) { id } }', { id: moderationQueue.edges[0].node.id }, shop.admin);
  await eventually(async () => (await page.locator(`flywheel-rewards >> li[data-challenge="${challenge.id}"]`).textContent()).includes('Geschafft'),
    { what: 'challenge completed in the widget' });
  await screenshot(page, 'widget-german-review-challenge');
  assert.deepEqual(errors, []);
  await page.close();
});
