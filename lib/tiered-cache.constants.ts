/** Property on decorated instances that holds their app's `TieredCacheService` (DI-filled). */
export const CACHE_SLOT = Symbol('nestjs-tiered-cache:service');
/** Where the decorator stubs find the engine on the service. */
export const ENGINE = Symbol('nestjs-tiered-cache:engine');
/** Metadata key marking a method stub installed by one of our decorators. */
export const CACHE_OPERATION_METADATA = 'nestjs-tiered-cache:operation';

/** Format marker stored first in every envelope; bump it when the wire format changes. */
export const ENVELOPE_VERSION = 'tc1';

/**
 * Internal module option (a symbol key: option validation does not see it): builds a shared tier
 * other than Redis, as the compat `CacheModule` does for Keyv `stores`.
 */
export const SHARED_TIER_FACTORY = Symbol('nestjs-tiered-cache:shared-tier-factory');
