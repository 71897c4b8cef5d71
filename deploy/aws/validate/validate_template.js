#!/usr/bin/env node
// Validates a CloudFormation template (SAM transform included) against the CloudFormation
// resource specification pinned in package-lock.json (@aws-cdk/cfnspec, which carries the SAM
// resource types too): the template's sections, parameters and conditions; every resource's
// type, property names, required properties and value types; and every reference (Ref,
// Fn::GetAtt, Fn::Sub variables, Fn::If conditions, DependsOn). Exits 1 and lists every
// finding as "path: problem" when anything is wrong.
//
// Usage: validate_template.js TEMPLATE.yaml
'use strict';

const fs = require('fs');
const { yamlParse } = require('yaml-cfn');
const spec = require('@aws-cdk/cfnspec/spec/specification.json');

const SAM_TRANSFORM = 'AWS::Serverless-2016-10-31';
const SECTIONS = new Set(['AWSTemplateFormatVersion', 'Description', 'Metadata', 'Parameters',
  'Rules', 'Mappings', 'Conditions', 'Transform', 'Resources', 'Outputs']);
const PSEUDO = new Set(['AWS::AccountId', 'AWS::NotificationARNs', 'AWS::NoValue',
  'AWS::Partition', 'AWS::Region', 'AWS::StackId', 'AWS::StackName', 'AWS::URLSuffix']);
const INTRINSICS = new Set(['Ref', 'Condition', 'Fn::Base64', 'Fn::Cidr', 'Fn::FindInMap',
  'Fn::GetAtt', 'Fn::GetAZs', 'Fn::ImportValue', 'Fn::Join', 'Fn::Select', 'Fn::Split',
  'Fn::Sub', 'Fn::Transform', 'Fn::If', 'Fn::Equals', 'Fn::Not', 'Fn::And', 'Fn::Or',
  'Fn::Length', 'Fn::ToJsonString']);
const CONDITION_FUNCTIONS = new Set(['Fn::And', 'Fn::Equals', 'Fn::If', 'Fn::Not', 'Fn::Or',
  'Condition']);
const PARAMETER_KEYS = new Set(['Type', 'Default', 'Description', 'AllowedValues',
  'AllowedPattern', 'ConstraintDescription', 'MinLength', 'MaxLength', 'MinValue', 'MaxValue',
  'NoEcho']);
const PARAMETER_TYPE = /^(String|Number|List<Number>|CommaDelimitedList|AWS::[A-Za-z0-9:]+|List<AWS::[A-Za-z0-9:]+>|AWS::SSM::Parameter::Value<.+>)$/;
const RESOURCE_KEYS = new Set(['Type', 'Properties', 'DependsOn', 'Condition', 'Metadata',
  'DeletionPolicy', 'UpdateReplacePolicy', 'CreationPolicy', 'UpdatePolicy']);
const POLICIES = new Set(['Delete', 'Retain', 'Snapshot', 'RetainExceptOnCreate']);
const OUTPUT_KEYS = new Set(['Description', 'Value', 'Export', 'Condition']);

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const intrinsic = (v) => {
  if (!isObject(v)) return null;
  const keys = Object.keys(v);
  return keys.length === 1 && INTRINSICS.has(keys[0]) ? keys[0] : null;
};

class Validator {
  constructor(template) {
    this.t = template;
    this.errors = [];
    this.params = isObject(template.Parameters) ? template.Parameters : {};
    this.resources = isObject(template.Resources) ? template.Resources : {};
    this.conditions = isObject(template.Conditions) ? template.Conditions : {};
    this.mappings = isObject(template.Mappings) ? template.Mappings : {};
    const transform = [].concat(template.Transform || []);
    this.sam = transform.includes(SAM_TRANSFORM);
  }

  fail(path, problem) { this.errors.push(`${path}: ${problem}`); }

  run() {
    if (!isObject(this.t)) return this.fail('template', 'not a mapping');
    for (const key of Object.keys(this.t)) {
      if (!SECTIONS.has(key)) this.fail(key, 'not a template section');
    }
    const version = this.t.AWSTemplateFormatVersion;
    if (version !== undefined && version !== '2010-09-09') {
      this.fail('AWSTemplateFormatVersion', 'must be "2010-09-09"');
    }
    if (!isObject(this.t.Resources) || Object.keys(this.t.Resources).length === 0) {
      this.fail('Resources', 'required, with at least one resource');
    }
    this.checkParameters();
    this.checkConditions();
    for (const [name, resource] of Object.entries(this.resources)) {
      this.checkResource(name, resource, `Resources.${name}`);
    }
    this.checkOutputs();
    this.checkReferences(this.t, '');
    return this.errors;
  }

  checkParameters() {
    for (const [name, p] of Object.entries(this.params)) {
      const path = `Parameters.${name}`;
      if (!isObject(p)) { this.fail(path, 'not a mapping'); continue; }
      for (const key of Object.keys(p)) {
        if (!PARAMETER_KEYS.has(key)) this.fail(`${path}.${key}`, 'not a parameter attribute');
      }
      if (typeof p.Type !== 'string' || !PARAMETER_TYPE.test(p.Type)) {
        this.fail(`${path}.Type`, `not a parameter type: ${JSON.stringify(p.Type)}`);
      }
      if (p.Default === undefined) continue;
      const value = String(p.Default);
      const values = p.Type === 'CommaDelimitedList' ? value.split(',') : [value];
      if (Array.isArray(p.AllowedValues) && !values.every((v) => p.AllowedValues.map(String).includes(v))) {
        this.fail(`${path}.Default`, `${JSON.stringify(p.Default)} is not among AllowedValues`);
      }
      if (p.AllowedPattern !== undefined) {
        let re = null;
        try { re = new RegExp(`^(?:${p.AllowedPattern})$`); } catch (e) {
          this.fail(`${path}.AllowedPattern`, `not a regular expression: ${e.message}`);
        }
        if (re && !values.every((v) => re.test(v))) {
          this.fail(`${path}.Default`, `${JSON.stringify(p.Default)} does not match AllowedPattern`);
        }
      }
      if (p.Type === 'Number') {
        const n = Number(value);
        if (Number.isNaN(n)) this.fail(`${path}.Default`, 'not a number');
        if (p.MinValue !== undefined && n < Number(p.MinValue)) this.fail(`${path}.Default`, 'below MinValue');
        if (p.MaxValue !== undefined && n > Number(p.MaxValue)) this.fail(`${path}.Default`, 'above MaxValue');
      }
      if (p.MinLength !== undefined && value.length < Number(p.MinLength)) this.fail(`${path}.Default`, 'shorter than MinLength');
      if (p.MaxLength !== undefined && value.length > Number(p.MaxLength)) this.fail(`${path}.Default`, 'longer than MaxLength');
    }
  }

  checkConditions() {
    for (const [name, c] of Object.entries(this.conditions)) {
      const fn = intrinsic(c);
      if (!fn || !CONDITION_FUNCTIONS.has(fn)) {
        this.fail(`Conditions.${name}`, 'must be Fn::Equals, Fn::And, Fn::Or, Fn::Not or Condition');
      }
    }
  }

  checkOutputs() {
    for (const [name, o] of Object.entries(this.t.Outputs || {})) {
      const path = `Outputs.${name}`;
      if (!isObject(o)) { this.fail(path, 'not a mapping'); continue; }
      for (const key of Object.keys(o)) {
        if (!OUTPUT_KEYS.has(key)) this.fail(`${path}.${key}`, 'not an output attribute');
      }
      if (o.Value === undefined) this.fail(`${path}.Value`, 'required');
      if (o.Condition !== undefined && !(o.Condition in this.conditions)) {
        this.fail(`${path}.Condition`, `no condition named ${o.Condition}`);
      }
    }
  }

  checkResource(name, r, path) {
    if (!isObject(r)) return this.fail(path, 'not a mapping');
    for (const key of Object.keys(r)) {
      if (!RESOURCE_KEYS.has(key)) this.fail(`${path}.${key}`, 'not a resource attribute');
    }
    for (const key of ['DeletionPolicy', 'UpdateReplacePolicy']) {
      if (r[key] !== undefined && !POLICIES.has(r[key])) this.fail(`${path}.${key}`, `not a policy: ${r[key]}`);
    }
    if (r.Condition !== undefined && !(r.Condition in this.conditions)) {
      this.fail(`${path}.Condition`, `no condition named ${r.Condition}`);
    }
    for (const dep of [].concat(r.DependsOn || [])) {
      if (!(dep in this.resources)) this.fail(`${path}.DependsOn`, `no resource named ${dep}`);
    }
    const type = r.Type;
    if (typeof type !== 'string') return this.fail(`${path}.Type`, 'required');
    if (type.startsWith('Custom::')) return;
    if (type.startsWith('AWS::Serverless::') && !this.sam) {
      return this.fail(`${path}.Type`, `${type} needs "Transform: ${SAM_TRANSFORM}"`);
    }
    const rs = spec.ResourceTypes[type];
    if (!rs) return this.fail(`${path}.Type`, `not a resource type: ${type}`);
    const props = r.Properties === undefined ? {} : r.Properties;
    this.checkObject(props, rs.Properties || {}, type, `${path}.Properties`);
  }

  // An object of named properties described by `properties` (of resource or property type
  // `owner`).
  checkObject(value, properties, owner, path) {
    if (intrinsic(value)) return;
    if (!isObject(value)) return this.fail(path, 'expected a mapping');
    for (const [key, v] of Object.entries(value)) {
      if (!(key in properties)) {
        this.fail(`${path}.${key}`, `not a property of ${owner}`);
        continue;
      }
      this.checkValue(v, properties[key], owner, `${path}.${key}`);
    }
    for (const [key, p] of Object.entries(properties)) {
      if (p.Required && !(key in value)) this.fail(`${path}.${key}`, `required by ${owner}`);
    }
  }

  resourceOf(owner) { return owner.split('.')[0]; }

  propertyType(owner, name) {
    if (name === 'Tag') return ['Tag', spec.PropertyTypes.Tag];
    const full = `${this.resourceOf(owner)}.${name}`;
    return [full, spec.PropertyTypes[full]];
  }

  checkNamedType(value, owner, name, path) {
    const [full, pt] = this.propertyType(owner, name);
    if (!pt) return this.fail(path, `the specification has no property type ${full}`);
    if (pt.PrimitiveType) return this.checkPrimitive(value, pt.PrimitiveType, path);
    // A SAM event source: its Properties are the type named by its Type.
    if (full === 'AWS::Serverless::Function.EventSource' && isObject(value)) {
      const eventType = `${value.Type}Event`;
      const allowed = pt.Properties.Properties.Types || [];
      if (!allowed.includes(eventType)) {
        return this.fail(`${path}.Type`, `not a SAM event type: ${JSON.stringify(value.Type)}`);
      }
      for (const key of Object.keys(value)) {
        if (!(key in pt.Properties)) this.fail(`${path}.${key}`, 'not a property of an event source');
      }
      return this.checkNamedType(value.Properties, owner, eventType, `${path}.Properties`);
    }
    this.checkObject(value, pt.Properties || {}, full, path);
  }

  // Every way the specification lets a value be typed, SAM's alternatives included.
  alternatives(p) {
    const alts = [];
    if (p.PrimitiveType) alts.push({ primitive: p.PrimitiveType });
    for (const prim of p.PrimitiveTypes || []) alts.push({ primitive: prim });
    for (const t of p.Types || []) alts.push({ named: t });
    if (p.Type === 'List' || p.Type === 'Map') {
      alts.push({ container: p.Type, item: p.ItemType ? { named: p.ItemType } : { primitive: p.PrimitiveItemType || 'Json' } });
    } else if (p.Type) {
      alts.push({ named: p.Type });
    }
    const items = [...(p.ItemTypes || []), ...(p.InclusiveItemTypes || [])].map((t) => ({ named: t }))
      .concat([...(p.PrimitiveItemTypes || []), ...(p.InclusivePrimitiveItemTypes || [])].map((t) => ({ primitive: t })));
    if (items.length) alts.push({ container: 'List', items });
    return alts;
  }

  checkValue(value, p, owner, path) {
    if (intrinsic(value)) return;
    const alts = this.alternatives(p);
    if (alts.length === 0) return;
    let best = null;
    for (const alt of alts) {
      const errors = this.collect(() => this.checkAlternative(value, alt, owner, path));
      if (errors.length === 0) return;
      if (!best || errors.length < best.length) best = errors;
    }
    this.errors.push(...best);
  }

  collect(fn) {
    const saved = this.errors;
    this.errors = [];
    try { fn(); return this.errors; } finally { this.errors = saved; }
  }

  checkAlternative(value, alt, owner, path) {
    if (alt.primitive) return this.checkPrimitive(value, alt.primitive, path);
    if (alt.named) return this.checkNamedType(value, owner, alt.named, path);
    const itemAlts = alt.items || [alt.item];
    const checkItem = (v, itemPath) => {
      if (intrinsic(v)) return;
      let best = null;
      for (const item of itemAlts) {
        const errors = this.collect(() => this.checkAlternative(v, item, owner, itemPath));
        if (errors.length === 0) return;
        if (!best || errors.length < best.length) best = errors;
      }
      this.errors.push(...best);
    };
    if (alt.container === 'List') {
      if (!Array.isArray(value)) return this.fail(path, 'expected a list');
      value.forEach((v, i) => checkItem(v, `${path}[${i}]`));
    } else {
      if (!isObject(value)) return this.fail(path, 'expected a mapping');
      for (const [k, v] of Object.entries(value)) checkItem(v, `${path}.${k}`);
    }
  }

  checkPrimitive(value, primitive, path) {
    const ok = {
      String: () => ['string', 'number', 'boolean'].includes(typeof value),
      Integer: () => Number.isInteger(value) || (typeof value === 'string' && /^-?\d+$/.test(value)),
      Long: () => Number.isInteger(value) || (typeof value === 'string' && /^-?\d+$/.test(value)),
      Double: () => typeof value === 'number' || (typeof value === 'string' && value.trim() !== '' && !Number.isNaN(Number(value))),
      Boolean: () => typeof value === 'boolean' || value === 'true' || value === 'false',
      Timestamp: () => typeof value === 'string',
      Json: () => isObject(value) || Array.isArray(value) || typeof value === 'string',
    }[primitive];
    if (ok && !ok()) this.fail(path, `expected ${primitive}, got ${JSON.stringify(value)}`);
  }

  known(name) { return name in this.params || name in this.resources || PSEUDO.has(name); }

  checkGetAtt(resource, attribute, path) {
    if (!(resource in this.resources)) return this.fail(path, `no resource named ${resource}`);
    const type = this.resources[resource].Type;
    const rs = spec.ResourceTypes[type];
    // SAM resources expand into others with attributes of their own; not checked here.
    if (rs && rs.Attributes && typeof attribute === 'string' && !type.startsWith('AWS::Serverless::') &&
        !(attribute in rs.Attributes)) {
      this.fail(path, `${type} has no attribute ${attribute}`);
    }
  }

  // Walks the whole template for intrinsic functions and checks what they name.
  checkReferences(value, path) {
    if (Array.isArray(value)) return value.forEach((v, i) => this.checkReferences(v, `${path}[${i}]`));
    if (!isObject(value)) return;
    const fn = intrinsic(value);
    const arg = fn ? value[fn] : null;
    const at = path || 'template';
    if (fn === 'Ref') {
      if (typeof arg !== 'string' || !this.known(arg)) this.fail(at, `Ref to unknown ${JSON.stringify(arg)}`);
      return;
    }
    if (fn === 'Fn::GetAtt') {
      const parts = typeof arg === 'string' ? arg.split('.', 2) : arg;
      if (!Array.isArray(parts) || parts.length !== 2) return this.fail(at, 'Fn::GetAtt needs [resource, attribute]');
      this.checkGetAtt(parts[0], parts[1], at);
      return this.checkReferences(parts[1], `${at}.Fn::GetAtt`);
    }
    if (fn === 'Fn::Sub') {
      const [text, vars] = typeof arg === 'string' ? [arg, {}] : (Array.isArray(arg) ? arg : [null, null]);
      if (typeof text !== 'string' || !isObject(vars)) return this.fail(at, 'Fn::Sub needs a string or [string, mapping]');
      for (const m of text.matchAll(/\$\{([^}!][^}]*)\}/g)) {
        const name = m[1].trim();
        if (name in vars || this.known(name)) continue;
        const dot = name.indexOf('.');
        if (dot > 0) this.checkGetAtt(name.slice(0, dot), name.slice(dot + 1), at);
        else this.fail(at, `Fn::Sub variable \${${name}} names nothing`);
      }
      return this.checkReferences(vars, `${at}.Fn::Sub`);
    }
    if (fn === 'Fn::If') {
      if (!Array.isArray(arg) || arg.length !== 3) return this.fail(at, 'Fn::If needs [condition, then, else]');
      if (!(arg[0] in this.conditions)) this.fail(at, `Fn::If on unknown condition ${JSON.stringify(arg[0])}`);
      return this.checkReferences(arg.slice(1), `${at}.Fn::If`);
    }
    if (fn === 'Condition' && path.startsWith('Conditions.')) {
      if (!(arg in this.conditions)) this.fail(at, `unknown condition ${JSON.stringify(arg)}`);
      return;
    }
    if (fn === 'Fn::Join' && !(Array.isArray(arg) && arg.length === 2 && typeof arg[0] === 'string')) {
      return this.fail(at, 'Fn::Join needs [delimiter, list]');
    }
    if (fn === 'Fn::FindInMap' && !(Array.isArray(arg) && arg.length === 3 && (intrinsic(arg[0]) || arg[0] in this.mappings))) {
      return this.fail(at, 'Fn::FindInMap needs [known mapping, key, key]');
    }
    for (const [k, v] of Object.entries(value)) this.checkReferences(v, path ? `${path}.${k}` : k);
  }
}

function main() {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: validate_template.js TEMPLATE.yaml');
    process.exit(2);
  }
  let template;
  try {
    template = yamlParse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    console.error(`${file}: not a readable YAML template: ${e.message}`);
    process.exit(1);
  }
  const errors = new Validator(template).run();
  if (errors.length) {
    for (const e of errors) console.error(`${file}: ${e}`);
    console.error(`${file}: ${errors.length} problem(s)`);
    process.exit(1);
  }
  const count = Object.keys(template.Resources).length;
  console.log(`${file}: valid (${count} resources; CloudFormation specification ${spec.ResourceSpecificationVersion})`);
}

main();
