"""Commerce-platform connections of the customers service: the stores and shops that send their
orders and customers (Shopify, Shopware 6), kept as data with their secrets encrypted, and the
push of offers to them as discount codes. README.md lists the modules."""
