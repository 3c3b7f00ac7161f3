/** Property on decorated instances that holds their app's `TieredCacheService` (DI-filled). */
export const CACHE_SLOT = Symbol('nestjs-tiered-cache:service');
/** Where the decorator stubs find the engine on the service. */
export const ENGINE = Symbol('nestjs-tiered-cache:engine');
/** Metadata key marking a method stub installed by one of our decorators. */
export const CACHE_OPERATION_METADATA = 'nestjs-tiered-cache:operation';

/** Format marker stored first in every envelope; bump it when the wire format changes. */
export const ENVELOPE_VERSION = 'tc1';
