// The shop's products. Fixed, so every replica and the scenario agree on prices.

export interface Product {
  sku: string;
  name: string;
  /** Price in cents. */
  priceCents: number;
}

export const CATALOG: readonly Product[] = Object.freeze([
  { sku: 'tea', name: 'Green tea', priceCents: 450 },
  { sku: 'mug', name: 'Stoneware mug', priceCents: 1200 },
  { sku: 'honey', name: 'Wildflower honey', priceCents: 890 },
  { sku: 'kettle', name: 'Gooseneck kettle', priceCents: 5400 },
  { sku: 'biscuits', name: 'Oat biscuits', priceCents: 320 },
]);

const BY_SKU = new Map(CATALOG.map((product) => [product.sku, product]));

export function findProduct(sku: string): Product | undefined {
  return BY_SKU.get(sku);
}
