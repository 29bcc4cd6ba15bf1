"""Who may call each root operation of the supergraph. Every operation must be listed here: the
matrix test fails on one that is not, so a new operation cannot ship without a declared rule.

  public    anyone, no credentials needed
  customer  a customer token only
  ingest    the commerce platform's ingest key (admins may do it too)
  admin     an admin key or admin token only
  checkout  a customer token, or the ingest key (admins too): a checkout checking a code
"""

RULES: dict[str, str] = {
    # queries
    "me": "customer",
    "customer": "admin",
    "product": "public",
    "referralLanding": "public",
    "referralProgram": "admin",
    "allReferrals": "admin",
    "moderationQueue": "admin",
    "rewardsCatalog": "public",
    "tiers": "public",
    "program": "admin",
    "programLiability": "admin",
    "notificationFlows": "admin",
    "retentionMetrics": "admin",
    "segmentCounts": "admin",
    "segmentRules": "admin",
    "exportCustomerData": "admin",
    "customers": "admin",
    "failedNotifications": "admin",
    "webhookEndpoints": "admin",
    "webhookDeliveries": "admin",
    "notificationSettings": "admin",
    "challenges": "public",
    "challenge": "public",
    "badgeCatalog": "public",
    "checkoutBenefits": "customer",
    "offerPerformance": "admin",
    # mutations
    "upsertCustomer": "ingest",
    "recordOrder": "ingest",
    "updateOrderStatus": "ingest",
    "adjustPoints": "admin",
    "bulkAdjustPoints": "admin",
    "overrideTier": "admin",
    "configureProgram": "admin",
    "upsertReward": "admin",
    "redeemReward": "customer",
    "redeemStoreCredit": "customer",
    "adjustStoreCredit": "admin",
    "validateRewardCode": "ingest",
    "checkCode": "checkout",
    "redeemCode": "ingest",
    "releaseCode": "ingest",
    "issueOffer": "admin",
    "revokeOffer": "admin",
    "updateNotificationPreferences": "customer",
    "recordEngagement": "ingest",
    "configureSegments": "admin",
    "refreshSegments": "admin",
    "eraseCustomer": "admin",
    "updateNotificationFlow": "admin",
    "configureNotifications": "admin",
    "upsertWebhookEndpoint": "admin",
    "notifyOrderDelay": "admin",
    "configureReferrals": "admin",
    "submitReview": "customer",
    "voteReviewHelpful": "customer",
    "moderateReview": "admin",
    "replyToReview": "admin",
    "launchChallenge": "admin",
    "endChallenge": "admin",
    "joinChallenge": "customer",
}
