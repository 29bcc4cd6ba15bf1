"""The points subgraph, in one place: what Query, Mutation and the Customer entity offer. The types
and resolvers live in the parts, loyalty/schema/ (program.py, account.py, rewards.py),
challenges/schema.py (challenges, badges, streaks) and offers/schema/ (checkout.py, issued.py,
performance.py); here they are mounted, with the descriptions the API documents."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from services.points.challenges import schema as challenges_api
from services.points.loyalty.schema import account as account_api
from services.points.loyalty.schema import program as program_api
from services.points.loyalty.schema import rewards as rewards_api
from services.points.loyalty.schema import simulation as simulation_api
from services.points.offers.schema import Offer
from services.points.offers.schema import checkout as checkout_api
from services.points.offers.schema import issued as offers_api
from services.points.offers.schema import performance as performance_api
from shared.dead_letters_schema import dead_letters_part
from shared.graphql import Money, SubgraphSchema, customer_ctx
from shared.pagination import Connection
from shared.personal_data import customer_data_export


@strawberry.federation.type(keys=["id"])
class Customer:
    id: strawberry.ID

    @classmethod
    def resolve_reference(cls, info: Info, id: strawberry.ID) -> Customer:
        customer_ctx(info, id)  # only that customer or an admin gets it
        return cls(id=id)

    # In the order of the committed SDL (gateway/subgraphs/points.graphql): challenges' fields first.
    challenge_progress: list[challenges_api.ChallengeProgress] = strawberry.field(
        resolver=challenges_api.customer_progress,
        description="The challenges the customer joined, newest start first.")
    badges: list[challenges_api.Badge] = strawberry.field(
        resolver=challenges_api.customer_badges, description="Badges held, oldest first.")
    streak: challenges_api.Streak = strawberry.field(resolver=challenges_api.customer_streak)

    loyalty: account_api.LoyaltyAccount = strawberry.field(resolver=account_api.loyalty)
    points_history: Connection[account_api.PointsTransaction] = strawberry.field(
        resolver=account_api.points_history, description="Ledger entries, newest first.")
    store_credit: Money = strawberry.field(
        resolver=account_api.store_credit, description="The store-credit wallet, in the shop currency.")
    redemptions: list[rewards_api.Redemption] = strawberry.field(
        resolver=rewards_api.redemptions, description="Rewards redeemed and codes granted, newest first.")
    offers: list[Offer] = strawberry.field(
        resolver=offers_api.customer_offers,
        description="The customer's offer codes, newest first, optionally of one status (customer or admin).")


@strawberry.type
class Query:
    challenges: list[challenges_api.Challenge] = strawberry.field(
        resolver=challenges_api.list_challenges,
        description="The shop's challenges, optionally of one status (public).")
    challenge: challenges_api.Challenge | None = strawberry.field(
        resolver=challenges_api.one_challenge, description="One challenge (public).")
    badge_catalog: list[challenges_api.BadgeDefinition] = strawberry.field(
        resolver=challenges_api.badge_catalog, description="Every badge the shop's customers can earn (public).")
    rewards_catalog: list[rewards_api.Reward] = strawberry.field(
        resolver=rewards_api.rewards_catalog, description="The shop's rewards catalog (public).")
    tiers: list[program_api.Tier] = strawberry.field(
        resolver=program_api.tiers, description="The shop's VIP tiers, lowest first (public).")
    program: program_api.Program = strawberry.field(
        resolver=program_api.program_in_effect, description="The program in force (admin).")
    program_liability: Money = strawberry.field(
        resolver=program_api.program_liability,
        description="Outstanding points (available and pending) × point value (admin).")
    simulate_program: simulation_api.ProgramComparison = strawberry.field(
        resolver=simulation_api.simulate_program, description=(
            "The shop's orders, refunds and actions of [from, to) replayed under a proposed change of the program "
            "and under the current program, side by side (admin). Writes nothing; at most 3 years."))
    program_simulation: simulation_api.ProgramSimulationRun = strawberry.field(
        resolver=simulation_api.program_simulation,
        description="A run of startProgramSimulation: how far it got, and the comparison once done (admin).")
    checkout_benefits: checkout_api.CheckoutBenefits = strawberry.field(
        resolver=checkout_api.checkout_benefits,
        description="What applies to a signed-in customer's cart now: the tier's free shipping, usable offers.")
    offer_performance: list[performance_api.OfferPerformance] = strawberry.field(
        resolver=performance_api.offer_performance,
        description="Per source, the offers issued in [from, to) and what the orders using them brought (admin).")
    not_eligible_orders: list[program_api.NotEligibleOrders] = strawberry.field(
        resolver=program_api.not_eligible_orders,
        description="Paid orders that earned nothing for want of an exchange rate, per currency (admin).")


@strawberry.type
class Mutation:
    launch_challenge: challenges_api.Challenge = strawberry.mutation(
        resolver=challenges_api.launch_challenge, description=(
            "Launch a challenge (admin); announces challenge.launched (the invitations). Idempotent on "
            "idempotencyKey."))
    end_challenge: challenges_api.Challenge = strawberry.mutation(
        resolver=challenges_api.end_challenge,
        description="End a challenge now (admin) and grant its leaderboard bonus.")
    join_challenge: challenges_api.ChallengeProgress = strawberry.mutation(
        resolver=challenges_api.join_challenge,
        description="Take part in a challenge (customer); joining twice is harmless.")
    adjust_points: account_api.LoyaltyAccount = strawberry.mutation(
        resolver=account_api.adjust_points,
        description="Add or remove points by hand (admin). Idempotent on idempotencyKey.")
    bulk_adjust_points: account_api.BulkAdjustmentResult = strawberry.mutation(
        resolver=account_api.bulk_adjust_points, description=(
            "Adjust many customers' points in one call (admin), up to 10 000 rows. Idempotent per batch key and "
            "row; a bad row is reported in errors and the others are applied."))
    record_social_share: account_api.SocialShareResult = strawberry.mutation(
        resolver=account_api.record_social_share, description=(
            "A customer shared a product, review or link (the customer themself, or an ingest key naming "
            "customerId): the program's socialShare points, once per network and content, at most "
            "socialSharesPerDay rewards a day."))
    override_tier: account_api.LoyaltyAccount = strawberry.mutation(
        resolver=account_api.override_tier, description="Put a customer in a tier until a date, with a reason (admin).")
    configure_program: program_api.Program = strawberry.mutation(
        resolver=program_api.configure_program,
        description="Change the program (admin): a new version; history keeps the old one.")
    start_program_simulation: simulation_api.ProgramSimulationRun = strawberry.mutation(
        resolver=simulation_api.start_program_simulation, description=(
            "simulateProgram as jobs, a page of customers each, for a period too large to answer at once (admin); "
            "poll programSimulation(id). Writes nothing but the run."))
    upsert_reward: rewards_api.Reward = strawberry.mutation(
        resolver=rewards_api.upsert_reward,
        description="Create or change a catalog reward (admin); without id a new one.")
    redeem_reward: rewards_api.Redemption = strawberry.mutation(
        resolver=rewards_api.redeem_reward, description=(
            "Spend points on a reward (customer): a single-use code. The same idempotencyKey returns the same "
            "redemption; with another reward it is a CONFLICT."))
    redeem_store_credit: rewards_api.Redemption = strawberry.mutation(
        resolver=rewards_api.redeem_store_credit, description=(
            "Turn store credit into a single-use STORE_CREDIT code for the checkout (customer). Idempotent on "
            "idempotencyKey."))
    adjust_store_credit: Money = strawberry.mutation(
        resolver=account_api.adjust_store_credit, description=(
            "Grant (positive) or withdraw (negative) store credit by hand (admin). Idempotent on idempotencyKey."))
    validate_reward_code: rewards_api.RewardCodeCheck = strawberry.mutation(
        resolver=rewards_api.validate_reward_code, description=(
            "Verify and consume a reward code at checkout, exactly once (ingest). Superseded by checkCode and "
            "redeemCode, which know the cart and the order; kept for existing integrations."))
    check_code: checkout_api.CodeCheck = strawberry.mutation(
        resolver=checkout_api.check_code, description=(
            "Whether a code applies to a cart, and the discount it gives (ingest or customer). Changes nothing: "
            "a mutation only so that it is rate-limited like one."))
    redeem_code: checkout_api.CodeCheck = strawberry.mutation(
        resolver=checkout_api.redeem_code, description=(
            "Use a code for an order (ingest). The same order again answers the same; once the code has no use "
            "left, any other order hears USED."))
    release_code: Offer = strawberry.mutation(
        resolver=checkout_api.release_code,
        description="Give a code back: the checkout was abandoned or the order cancelled before payment (ingest).")
    issue_offer: Offer = strawberry.mutation(
        resolver=offers_api.issue_offer,
        description="Issue an offer by hand (admin); terms left out come from the source's default.")
    revoke_offer: Offer = strawberry.mutation(
        resolver=offers_api.revoke_offer, description="Stop an offer's code from working (admin).")


schema = SubgraphSchema(
    query=Query,
    mutation=Mutation,
    types=[Customer, account_api.Order, customer_data_export("points"), dead_letters_part("points")],
)
