export const PACKAGE_NAME = '@troupe/testing';
