"""Community challenges, badges and streaks. Rules are pure modules (goals, leaderboard, badges,
streaks); use cases in organising (launch, join, end) and counting (events, refunds, completions,
streak weeks); store.py only runs SQL; schema.py is the GraphQL part that services/points/schema.py
mounts."""
