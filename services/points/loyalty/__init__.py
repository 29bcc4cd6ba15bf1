"""The loyalty program: its versions, the points ledger, tiers, rewards and codes, the store-credit
wallet and expiry. Rules are pure modules (program, ledger, tiers, rewards, wallet, expiry); use
cases own their transaction or take the caller's (configuration, posting, accounts, earning,
actions, redemption, adjustment, tiering, expiring); store/ only runs SQL; schema/ holds the GraphQL
parts that services/points/schema.py mounts."""
