/**
 * A product row. Dates travel as ISO strings: the cache's default JSON serializer would turn a
 * `Date` into a string anyway, and a cached value must look the same as a fresh one.
 */
export interface Product {
  id: number;
  name: string;
  /** Price in cents. */
  price: number;
  stock: number;
  updatedAt: string;
}

export type UpdateProduct = Partial<Pick<Product, 'name' | 'price' | 'stock'>>;

/** Checks a request body; returns the error message, or undefined when it is a valid update. */
export function validateUpdate(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'body must be a JSON object';
  const allowed = new Set(['name', 'price', 'stock']);
  const entries = Object.entries(body);
  if (entries.length === 0) return 'give at least one of name, price, stock';
  for (const [field, value] of entries) {
    if (!allowed.has(field)) return `unknown field "${field}" (allowed: name, price, stock)`;
    if (field === 'name' && (typeof value !== 'string' || value.trim() === '')) return 'name must be a non-empty string';
    if (field !== 'name' && (!Number.isInteger(value) || (value as number) < 0)) {
      return `${field} must be a non-negative integer`;
    }
  }
  return undefined;
}

const NAMES = [
  'Espresso beans 1 kg',
  'Filter papers (100)',
  'Burr grinder',
  'Milk jug 350 ml',
  'Tamper 58 mm',
  'Scale 0.1 g',
  'Gooseneck kettle',
  'Pour-over dripper',
  'Cold brew jar',
  'Knock box',
  'Descaler',
  'Cleaning tablets',
  'Portafilter basket',
  'Latte cups (2)',
  'Travel mug',
  'Green tea 250 g',
  'Chai spice mix',
  'Hot chocolate 500 g',
  'Oat milk 1 l',
  'Barista apron',
];

/** The rows a fresh database starts with. */
export function seedProducts(): Product[] {
  const at = new Date('2026-01-01T00:00:00.000Z').toISOString();
  return NAMES.map((name, i) => ({ id: i + 1, name, price: 490 + i * 250, stock: 10 + i, updatedAt: at }));
}
