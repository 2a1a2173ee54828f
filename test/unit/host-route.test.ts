import { describe, expect, it } from 'vitest';
import { compileRoute, compareSpecificity, RouteTemplateError } from '../../local/http/route';

describe('route templates', () => {
  it('fills parameters from the path', () => {
    expect(compileRoute('api/features/{entity}').match('/api/features/u42')).toEqual({ entity: 'u42' });
  });

  it('matches literals case-insensitively and decodes parameters', () => {
    expect(compileRoute('api/Models/{name}').match('/API/models/churn%20v1')).toEqual({ name: 'churn v1' });
  });

  it('treats a trailing optional parameter as absent when missing', () => {
    const r = compileRoute('api/hello/{name?}');
    expect(r.match('/api/hello')).toEqual({});
    expect(r.match('/api/hello/bob')).toEqual({ name: 'bob' });
    expect(r.match('/api/hello/bob/extra')).toBeUndefined();
  });

  it('rejects values that break a type constraint', () => {
    const r = compileRoute('api/items/{id:int}');
    expect(r.match('/api/items/17')).toEqual({ id: '17' });
    expect(r.match('/api/items/abc')).toBeUndefined();
    expect(compileRoute('x/{g:guid}').match('/x/0f8fad5b-d9cb-469f-a165-70867728950e')).toBeDefined();
    expect(compileRoute('x/{b:bool}').match('/x/maybe')).toBeUndefined();
  });

  it('catch-all takes the rest of the path', () => {
    expect(compileRoute('files/{*path}').match('/files/a/b/c.csv')).toEqual({ path: 'a/b/c.csv' });
  });

  it('refuses malformed templates with the reason', () => {
    expect(() => compileRoute('a/{x:nope}')).toThrow(RouteTemplateError);
    expect(() => compileRoute('a/{x?}/b')).toThrow(/only trailing parameters can be optional/);
    expect(() => compileRoute('a/{*x}/b')).toThrow(/catch-all must be the last/);
  });

  it('orders literal routes before parameter routes', () => {
    const routes = [compileRoute('items/{name}'), compileRoute('items/by-name'), compileRoute('items/{id:int}')];
    routes.sort(compareSpecificity);
    expect(routes.map((r) => r.template)).toEqual(['items/by-name', 'items/{id:int}', 'items/{name}']);
  });
});
