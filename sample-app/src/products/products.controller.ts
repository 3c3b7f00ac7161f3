import { BadRequestException, Body, Controller, Delete, Get, HttpCode, NotFoundException, Param, ParseIntPipe, Patch, Post } from '@nestjs/common';
import { validateUpdate, type Product, type UpdateProduct } from './product.js';
import { ProductsService } from './products.service.js';

@Controller('products')
export class ProductsController {
  constructor(private readonly products: ProductsService) {}

  @Get()
  list(): Promise<Product[]> {
    return this.products.findAll();
  }

  @Get(':id')
  async get(@Param('id', ParseIntPipe) id: number): Promise<Product> {
    return found(id, await this.products.findOne(id));
  }

  @Patch(':id')
  async update(@Param('id', ParseIntPipe) id: number, @Body() body: unknown): Promise<Product> {
    const error = validateUpdate(body);
    if (error) throw new BadRequestException(error);
    return found(id, await this.products.update(id, body as UpdateProduct));
  }

  @Delete(':id')
  @HttpCode(204)
  async remove(@Param('id', ParseIntPipe) id: number): Promise<void> {
    if (!(await this.products.remove(id))) throw notFound(id);
  }

  @Post(':id/refresh')
  @HttpCode(200)
  async refresh(@Param('id', ParseIntPipe) id: number): Promise<Product> {
    return found(id, await this.products.refresh(id));
  }
}

function found(id: number, product: Product | null): Product {
  if (!product) throw notFound(id);
  return product;
}

function notFound(id: number): NotFoundException {
  return new NotFoundException(`Product ${id} not found`);
}
