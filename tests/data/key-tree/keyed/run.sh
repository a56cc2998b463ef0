#!/bin/sh
echo keyed
