-- shequ-notify 003: the delivery that replaced a dead one (delivery.list shows a fallback
-- both ways) found without scanning every delivery. Applied with search_path set to the
-- notify schema. Partial: most deliveries replace none.
CREATE INDEX delivery_fallback ON delivery (fallback_of) WHERE fallback_of IS NOT NULL;
